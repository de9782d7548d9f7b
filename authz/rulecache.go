package authz

import (
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// ruleCache is what one evaluation computed of the policy's rules and
// function calls, for OPA's evaluator to use again (its virtual cache).
// OPA's own keeps a trie with a hashed map per level of every reference
// it stores, a dozen allocations per decision; a decision caches a few
// rules, nearly all of them data.grantd.authz.<rule>, so a short list
// searched from the newest entry, each reference compared from its last
// term (the rule's name, a pointer from the compiled policy), does the
// same in one allocation.
type ruleCache struct {
	entries []ruleEntry
	// frames holds where each frame pushed above the first starts in
	// entries; only the top frame is visible.
	frames []int
}

var _ topdown.VirtualCache = (*ruleCache)(nil)

// inlineRef is how many terms of a reference an entry holds without an
// allocation of its own: data.grantd.authz.<rule> and a call's two
// arguments.
const inlineRef = 6

// ruleEntry is one reference and its value, or undefined. The evaluator
// may reuse the slice of the reference it passes, so the entry keeps the
// terms themselves.
type ruleEntry struct {
	short     [inlineRef]*ast.Term
	long      ast.Ref // the terms, when there are more than inlineRef
	n         int
	value     *ast.Term
	undefined bool
}

// terms is the entry's reference.
func (e *ruleEntry) terms() ast.Ref {
	if e.long != nil {
		return e.long
	}
	return e.short[:e.n]
}

func (e *ruleEntry) is(ref ast.Ref) bool {
	if e.n != len(ref) {
		return false
	}
	terms := e.terms()
	for i := len(ref) - 1; i >= 0; i-- {
		if !terms[i].Equal(ref[i]) {
			return false
		}
	}
	return true
}

// top is where the visible frame starts.
func (c *ruleCache) top() int {
	if len(c.frames) == 0 {
		return 0
	}
	return c.frames[len(c.frames)-1]
}

func (c *ruleCache) find(ref ast.Ref) *ruleEntry {
	for i := len(c.entries) - 1; i >= c.top(); i-- {
		if c.entries[i].is(ref) {
			return &c.entries[i]
		}
	}
	return nil
}

// Push starts a frame that sees none of the entries before it.
func (c *ruleCache) Push() { c.frames = append(c.frames, len(c.entries)) }

// Pop drops the top frame and its entries.
func (c *ruleCache) Pop() {
	if len(c.frames) == 0 {
		clear(c.entries)
		c.entries = c.entries[:0]
		return
	}
	start := c.frames[len(c.frames)-1]
	clear(c.entries[start:])
	c.entries = c.entries[:start]
	c.frames = c.frames[:len(c.frames)-1]
}

// Get returns ref's value; (nil, true) when ref was found undefined and
// (nil, false) when it is not cached.
func (c *ruleCache) Get(ref ast.Ref) (*ast.Term, bool) {
	e := c.find(ref)
	switch {
	case e == nil:
		return nil, false
	case e.undefined:
		return nil, true
	}
	return e.value, false
}

// Put records ref's value, or that it is undefined when value is nil.
func (c *ruleCache) Put(ref ast.Ref, value *ast.Term) {
	e := c.find(ref)
	if e == nil {
		if c.entries == nil {
			c.entries = make([]ruleEntry, 0, 8)
		}
		c.entries = append(c.entries, ruleEntry{n: len(ref)})
		e = &c.entries[len(c.entries)-1]
		if len(ref) <= inlineRef {
			copy(e.short[:], ref)
		} else {
			e.long = append(ast.Ref(nil), ref...)
		}
	}
	// As OPA's own: a value once found undefined stays so.
	if value != nil {
		e.value = value
	} else {
		e.undefined = true
	}
}

// Keys lists the references of the top frame that have a value.
func (c *ruleCache) Keys() []ast.Ref {
	var keys []ast.Ref
	for i := c.top(); i < len(c.entries); i++ {
		e := &c.entries[i]
		if e.value == nil {
			continue
		}
		// A copy: the caller may change what it is given.
		keys = append(keys, slices.Clone(e.terms()))
	}
	return keys
}
