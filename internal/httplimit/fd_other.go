//go:build !unix

package httplimit

func openFileLimit() uint64 { return 0 }
