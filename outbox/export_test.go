package outbox

// Test hooks: what lets a test observe the state that makes a negative true, instead of
// sleeping long enough to hope so.

// LaneOf returns the lane running for tenant, or nil when none does.
func (d *Dispatcher) LaneOf(tenant string) *lane {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lanes[tenant]
}

// Exited reports whether the lane's run has returned: it sends and records nothing more.
func (l *lane) Exited() bool { return l.exited.Load() }
