package portal

import "syscall"

// indexerNice is the indexer thread's nice value: low enough that the apply
// path and the HTTP handlers keep the CPU when both want it (about a tenth
// of a core for the indexer against one busy thread), high enough that it
// still progresses on a loaded machine; at 19 it starved for seconds.
const indexerNice = 10

// lowerThreadPriority lowers the calling OS thread (the indexer's, locked to
// it): Linux applies nice values per thread.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), indexerNice)
}
