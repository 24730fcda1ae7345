package hub

import (
	"errors"
	"os"
)

// errInjectedFault stands for a failed database read in tests of failure
// handling (Config.TestFaultFile).
var errInjectedFault = errors.New("injected fault: database read failed")

// faultBlobCheck reports whether the attachment check is to fail now.
func (h *Hub) faultBlobCheck() bool {
	if h.cfg.TestFaultFile == "" {
		return false
	}
	_, err := os.Stat(h.cfg.TestFaultFile)
	return err == nil
}
