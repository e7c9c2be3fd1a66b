package flow

// NeedsClock reports whether the walk-through has something to count down, so that the runner need only
// send Tick events while it is true: a card or service call with a deadline, or a session (idle timeout,
// the "more time" countdown, the code's validity, the closing notice). On the welcome and out-of-service
// screens with no call pending it is false, and an idle kiosk is woken by nothing.
func (m *Machine) NeedsClock() bool { return m.pend.op != opNone || m.sess != nil }
