package enrol

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ReloadByPIDFile returns an AfterCRLWrite that sends SIGHUP to the process whose id is in pidFile
// (Mosquitto's pid_file, such as /run/mosquitto/mosquitto.pid): Mosquitto 2.0 reads its crlfile again
// then, so a revoked kiosk is refused from its next connection on. The file is read at every write, so
// a restarted broker is found.
func ReloadByPIDFile(pidFile string) func(context.Context) error {
	return func(context.Context) error {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return fmt.Errorf("reload the broker: %w", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			return fmt.Errorf("reload the broker: %s holds no process id", pidFile)
		}
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			return fmt.Errorf("reload the broker (pid %d): %w", pid, err)
		}
		return nil
	}
}
