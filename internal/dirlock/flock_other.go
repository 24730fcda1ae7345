//go:build !unix

package dirlock

import "os"

// flock is a no-op where flock(2) does not exist: the lock then only
// documents intent.
func flock(*os.File) error { return nil }
