package vcard

import (
	"net"
	"syscall"
)

// quickACK asks Linux to acknowledge the next segments at once instead of delaying the ACK.
//
// vpcd (vsmartcard 3.3, Debian 12) writes each frame in two sends, the length and then the bytes, on a
// socket with Nagle's algorithm on: the second send waits for the ACK of the first, which a delayed ACK
// holds back for 40 ms. Acknowledging at once takes an APDU round trip through pcscd from about 45 ms
// to well under one. Linux clears the flag again by itself, so it is set before every read.
func quickACK(conn net.Conn) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
