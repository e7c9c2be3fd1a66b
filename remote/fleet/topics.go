package fleet

import (
	"fmt"
	"strings"
)

// Version is the version of the topics and messages in this package; it is the "v" of every payload.
const Version = 1

// Root is the prefix of every kiosk topic.
const Root = "ssu/v1/kiosks/"

// Leaf names of a kiosk's topics, after Root + id + "/".
const (
	LeafStatus = "status"
	LeafHealth = "health"
	LeafEvents = "events"
	LeafAck    = "ack"
	LeafCmd    = "cmd"
	LeafResult = "cmd/result"
)

// StatusTopic is where a kiosk's retained online/offline status lives.
func StatusTopic(kiosk string) string { return Root + kiosk + "/" + LeafStatus }

// HealthTopic is where a kiosk publishes Health.
func HealthTopic(kiosk string) string { return Root + kiosk + "/" + LeafHealth }

// EventsTopic is where a kiosk publishes UsageEvents.
func EventsTopic(kiosk string) string { return Root + kiosk + "/" + LeafEvents }

// AckTopic is where the fleet server acknowledges a kiosk's stored events.
func AckTopic(kiosk string) string { return Root + kiosk + "/" + LeafAck }

// CommandTopic is where the fleet server sends a kiosk Commands.
func CommandTopic(kiosk string) string { return Root + kiosk + "/" + LeafCmd }

// ResultTopic is where a kiosk answers Commands.
func ResultTopic(kiosk string) string { return Root + kiosk + "/" + LeafResult }

// All returns the filter matching one leaf for every kiosk, e.g. All(LeafEvents) = "ssu/v1/kiosks/+/events".
func All(leaf string) string { return Root + "+/" + leaf }

// SplitTopic returns the kiosk id and the leaf of a kiosk topic.
func SplitTopic(topic string) (kiosk, leaf string, ok bool) {
	rest, found := strings.CutPrefix(topic, Root)
	if !found {
		return "", "", false
	}
	kiosk, leaf, found = strings.Cut(rest, "/")
	if !found || ValidKioskID(kiosk) != nil {
		return "", "", false
	}
	switch leaf {
	case LeafStatus, LeafHealth, LeafEvents, LeafAck, LeafCmd, LeafResult:
		return kiosk, leaf, true
	}
	return "", "", false
}

// ValidKioskID checks an identity: 1-64 of a-z, 0-9, '-' and '_', starting with a letter or digit.
// It can therefore never hold an MQTT wildcard or a topic separator.
func ValidKioskID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("kiosk id must be 1-64 characters, got %d", len(id))
	}
	for i, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (i > 0 && (r == '-' || r == '_'))
		if !ok {
			return fmt.Errorf("kiosk id %q: character %d not allowed (a-z, 0-9, '-', '_')", id, i)
		}
	}
	return nil
}
