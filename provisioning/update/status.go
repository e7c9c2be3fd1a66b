package update

import (
	"context"
	"encoding/json"
	"fmt"
)

// Slot is one root slot as RAUC sees it.
type Slot struct {
	Name       string // rootfs.0, rootfs.1
	Bootname   string // A, B
	State      string // booted, inactive
	BootStatus string // good, bad (GRUB: OK=1 and no try pending is good)
	Version    string // of the bundle last installed to it; "" when none was (the flashed image)
	Installed  string // when that bundle was installed (RFC 3339); "" when none was
}

// Status is RAUC's view of the slots.
type Status struct {
	Compatible string
	Booted     string // the bootname of the running slot
	Primary    string // the slot GRUB boots next
	Slots      []Slot
}

// Fallback says that the kiosk fell back: the slot installed last is not the one running, and
// GRUB marked it bad or it ran out of tries.
type Fallback struct {
	FailedVersion  string // the version that did not become healthy
	FailedSlot     string
	RunningVersion string // the version running again ("" when the flashed image's: see System)
	RunningSlot    string
}

// Status reads `rauc status --detailed`.
func (r Rauc) Status(ctx context.Context) (Status, error) {
	out, err := r.command(ctx, "status", "--detailed", "--output-format=json")
	if err != nil {
		return Status{}, err
	}
	return parseStatus([]byte(out))
}

// raucStatus is rauc 1.8's JSON status: slots is a list of one-key objects.
type raucStatus struct {
	Compatible  string `json:"compatible"`
	Booted      string `json:"booted"`
	BootPrimary string `json:"boot_primary"`
	Slots       []map[string]struct {
		Bootname   string `json:"bootname"`
		State      string `json:"state"`
		BootStatus string `json:"boot_status"`
		SlotStatus struct {
			Bundle struct {
				Version string `json:"version"`
			} `json:"bundle"`
			Installed struct {
				Timestamp string `json:"timestamp"`
			} `json:"installed"`
		} `json:"slot_status"`
	} `json:"slots"`
}

func parseStatus(data []byte) (Status, error) {
	var rs raucStatus
	if err := json.Unmarshal(data, &rs); err != nil {
		return Status{}, fmt.Errorf("rauc status: %w", err)
	}
	s := Status{Compatible: rs.Compatible, Booted: rs.Booted, Primary: rs.BootPrimary}
	for _, m := range rs.Slots {
		for name, v := range m {
			s.Slots = append(s.Slots, Slot{Name: name, Bootname: v.Bootname, State: v.State,
				BootStatus: v.BootStatus, Version: v.SlotStatus.Bundle.Version,
				Installed: v.SlotStatus.Installed.Timestamp})
		}
	}
	return s, nil
}

// Running is the booted slot.
func (s Status) Running() (Slot, bool) {
	for _, sl := range s.Slots {
		if sl.Bootname == s.Booted {
			return sl, true
		}
	}
	return Slot{}, false
}

// Fallback reports a fallback: another slot was installed after the running one and is not good.
func (s Status) Fallback() (Fallback, bool) {
	run, ok := s.Running()
	if !ok {
		return Fallback{}, false
	}
	for _, sl := range s.Slots {
		if sl.Name == run.Name || sl.Installed == "" || sl.BootStatus == "good" {
			continue
		}
		if run.Installed == "" || sl.Installed > run.Installed {
			return Fallback{FailedVersion: sl.Version, FailedSlot: sl.Bootname,
				RunningVersion: run.Version, RunningSlot: run.Bootname}, true
		}
	}
	return Fallback{}, false
}
