package httplimit

// fdReserve is the files kept back from client connections: database
// connections, blob files, gossip, outgoing requests and the log.
const fdReserve = 256

// FitConns lowers a connection cap to what the open-file limit can hold, so
// a full server refuses or evicts connections instead of failing to accept
// (which would stall every client, health checks included). It returns want
// unchanged when the limit is unknown or high enough.
func FitConns(want int) int {
	limit := openFileLimit()
	if limit == 0 {
		return want
	}
	room := 64
	if limit > fdReserve+64 {
		room = int(min(limit-fdReserve, 1<<30))
	}
	if want <= 0 || want > room {
		return room
	}
	return want
}
