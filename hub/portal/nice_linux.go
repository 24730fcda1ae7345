package portal

import "syscall"

// lowerThreadPriority gives the calling OS thread (the indexer's, locked to
// it) the lowest scheduling priority: Linux applies nice values per thread,
// so the hub's apply path and the HTTP handlers keep the CPU when both want it.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
}
