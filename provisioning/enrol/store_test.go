package enrol_test

import (
	"testing"

	"ssu-kiosk/provisioning/enrol"
	"ssu-kiosk/provisioning/enrol/enroltest"
)

func TestMemoryStore(t *testing.T) { enroltest.TestStore(t, enrol.NewMemoryStore()) }
