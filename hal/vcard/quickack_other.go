//go:build !linux

package vcard

import "net"

// quickACK is a Linux tuning (see quickack_linux.go); elsewhere the card answers at the usual pace.
func quickACK(net.Conn) {}
