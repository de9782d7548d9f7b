package authz

import "sync/atomic"

// Memo is where a caller keeps what it derived from a cached decision,
// so that the next answer from the same cache entry need not derive it
// again: a decision log's encoding of the question and its answer, for
// one. Every answer from one entry carries the same Memo, and an entry
// stands for one question (every field of the request that reaches the
// policy), one decision (less its revision, which moves with the
// snapshot) and, once named, one list of grants; a write that changes any
// of them makes a new entry with a new, empty Memo. So a Memo may hold
// anything that depends on those alone, and nothing else. The engine never
// reads it.
//
// A Memo is kept per owner: a value stored by one owner is not loaded by
// another, so that two users of one engine (two loggers with different
// masks, say) never take each other's.
type Memo struct {
	p atomic.Pointer[memoValue]
}

type memoValue struct {
	owner any
	b     []byte
}

// Load returns what owner stored, or nil. A nil Memo holds nothing.
func (m *Memo) Load(owner any) []byte {
	if m == nil {
		return nil
	}
	if v := m.p.Load(); v != nil && v.owner == owner {
		return v.b
	}
	return nil
}

// Store keeps b (which the caller must not change afterwards) for owner,
// in place of whatever was kept. Storing into a nil Memo does nothing.
func (m *Memo) Store(owner any, b []byte) {
	if m != nil {
		m.p.Store(&memoValue{owner: owner, b: b})
	}
}
