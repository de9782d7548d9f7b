// Package loadgc paces the garbage collector while grantd loads its state.
package loadgc

import "runtime/debug"

// Percent is the collector's target percentage while grantd loads its
// state. Loading allocates nearly all of what the heap will hold at once;
// collected each time the heap doubles (GOGC 100), the state is marked
// again and again: a third of start-up's CPU with enterprise-large. See
// docs/decisions.md, "Start-up collects less often".
const Percent = 400

// Start raises the collector's target percentage to Percent, unless GOGC
// has it higher or off, and returns what puts it back once the state is
// loaded.
func Start() (loaded func()) {
	prev := debug.SetGCPercent(Percent)
	if prev < 0 || prev >= Percent {
		debug.SetGCPercent(prev)
	}
	return func() { debug.SetGCPercent(prev) }
}
