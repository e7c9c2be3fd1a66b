package fleet

import (
	"fmt"
	"strings"
)

// Role is who a rule is for.
type Role string

// Roles.
const (
	RoleKiosk Role = "kiosk" // any identity other than the fleet's
	RoleFleet Role = "fleet" // the fleet server's identity
)

// Access is what a rule allows.
type Access string

// Accesses.
const (
	Read      Access = "read"  // subscribe and receive
	Write     Access = "write" // publish, the Will included
	ReadWrite Access = "readwrite"
)

// IdentityVar stands for the connecting identity in a Rule's topic.
const IdentityVar = "{id}"

// Rule allows one role one access to one topic. For RoleKiosk the topic is exact (no wildcards) once
// IdentityVar is replaced by the kiosk's identity; for RoleFleet it may end in "#".
type Rule struct {
	Role   Role
	Access Access
	Topic  string
}

// Rules returns the access rules every broker of a fleet enforces. Anything not allowed is denied.
func Rules() []Rule {
	return []Rule{
		{RoleKiosk, Write, Root + IdentityVar + "/" + LeafStatus},
		{RoleKiosk, Write, Root + IdentityVar + "/" + LeafHealth},
		{RoleKiosk, Write, Root + IdentityVar + "/" + LeafEvents},
		{RoleKiosk, Write, Root + IdentityVar + "/" + LeafResult},
		{RoleKiosk, Read, Root + IdentityVar + "/" + LeafCmd},
		{RoleKiosk, Read, Root + IdentityVar + "/" + LeafAck},
		{RoleFleet, ReadWrite, "ssu/v1/#"},
	}
}

// Policy evaluates Rules for one fleet.
type Policy struct {
	Fleet string // the fleet server's identity (certificate CN), e.g. "fleet"
}

// Allowed reports whether identity may publish on topic (write) or subscribe to / receive from the
// filter topic (read). A kiosk's identity must be a valid kiosk id; wildcards are never granted to kiosks.
func (p Policy) Allowed(identity, topic string, write bool) bool {
	role := RoleKiosk
	if identity == p.Fleet && p.Fleet != "" {
		role = RoleFleet
	} else if ValidKioskID(identity) != nil {
		return false
	}
	for _, r := range Rules() {
		if r.Role != role || !r.Access.allows(write) {
			continue
		}
		if role == RoleFleet {
			if prefix, ok := strings.CutSuffix(r.Topic, "#"); ok && strings.HasPrefix(topic, prefix) && len(topic) > len(prefix) {
				return true
			}
			continue
		}
		if strings.ContainsAny(topic, "+#") {
			continue
		}
		if topic == strings.ReplaceAll(r.Topic, IdentityVar, identity) {
			return true
		}
	}
	return false
}

func (a Access) allows(write bool) bool {
	if a == ReadWrite {
		return true
	}
	return (a == Write) == write
}

// MosquittoACL renders Rules as a Mosquitto acl_file for a broker configured with
// use_identity_as_username (so %u is the certificate CN) and use_username_as_clientid.
func MosquittoACL(fleetID string) (string, error) {
	if err := ValidKioskID(fleetID); err != nil {
		return "", fmt.Errorf("fleet identity: %w", err)
	}
	var b strings.Builder
	b.WriteString("# ssu-kiosk fleet access rules (topics v1), written by ssu-ctl broker-config.\n")
	b.WriteString("# Anything not allowed here is denied.\n\n")
	fmt.Fprintf(&b, "# the fleet server\nuser %s\n", fleetID)
	for _, r := range Rules() {
		if r.Role == RoleFleet {
			fmt.Fprintf(&b, "topic %s %s\n", r.Access, r.Topic)
		}
	}
	b.WriteString("\n# every kiosk: only its own topics (%u is its certificate CN, also its client id)\n")
	for _, r := range Rules() {
		if r.Role == RoleKiosk {
			fmt.Fprintf(&b, "pattern %s %s\n", r.Access, strings.ReplaceAll(r.Topic, IdentityVar, "%u"))
		}
	}
	return b.String(), nil
}
