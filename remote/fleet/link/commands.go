package link

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"ssu-kiosk/remote/fleet"
)

// onCommand runs one command at most once and answers it on cmd/result.
func (a *Agent) onCommand(ctx context.Context, c mqtt.Client, payload []byte) {
	res := fleet.CommandResult{V: fleet.Version, Kiosk: a.cfg.Kiosk, Status: fleet.ResultRefused}
	cmd, err := fleet.ParseCommand(payload)
	if err != nil {
		// Answer with the id if one can be read, so the sender can match the refusal.
		var peek struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if json.Unmarshal(payload, &peek) == nil && len(peek.ID) <= 64 {
			res.ID, res.Name = peek.ID, fleet.CommandName(peek.Name)
			if fleet.ValidKioskID(string(res.Name)) != nil { // never echo odd text back
				res.Name = ""
			}
		}
		res.Reason = err.Error()
		a.answer(c, res)
		return
	}
	res.ID, res.Name = cmd.ID, cmd.Name
	if !cmd.ExpiresAt.IsZero() && time.Now().After(cmd.ExpiresAt) {
		res.Reason = "expired at " + cmd.ExpiresAt.UTC().Format(time.RFC3339)
		a.answer(c, res)
		return
	}
	fresh, err := a.cfg.Outbox.ClaimCommand(ctx, cmd.ID, string(cmd.Name))
	if err != nil {
		res.Status, res.Reason = fleet.ResultFailed, "could not record the command: "+err.Error()
		a.answer(c, res)
		return
	}
	if !fresh {
		res.Reason = "replay: this command id was already handled"
		a.answer(c, res)
		return
	}
	if cmd.Name == fleet.CmdUpdate {
		a.update(ctx, c, res, cmd)
		return
	}
	if a.cfg.Commands == nil {
		res.Status, res.Reason = fleet.ResultFailed, "this kiosk does not support remote commands"
		a.answer(c, res)
		return
	}
	if cmd.Name == fleet.CmdReboot {
		a.reboot(ctx, c, res)
		return
	}
	res.Lines, err = a.run(ctx, cmd)
	if err != nil {
		res.Status, res.Reason = fleet.ResultFailed, err.Error()
	} else {
		res.Status = fleet.ResultOK
	}
	a.answer(c, res)
}

func (a *Agent) run(ctx context.Context, cmd fleet.Command) ([]string, error) {
	k := a.cfg.Commands
	switch cmd.Name {
	case fleet.CmdMaintenance:
		return nil, k.SetMaintenance(ctx, *cmd.On, cmd.Message)
	case fleet.CmdReload:
		return nil, k.ReloadConfig(ctx)
	case fleet.CmdMethods:
		return nil, k.SetMethods(ctx, cmd.Enable, cmd.Disable)
	case fleet.CmdIdentify:
		return nil, k.Identify(ctx, IdentifyFor)
	case fleet.CmdLogs:
		n := cmd.Lines
		if n == 0 {
			n = 100
		}
		lines, err := k.RecentLogs(ctx, n)
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		return fleet.ScrubLines(lines), err
	}
	return nil, errors.New("unknown command") // ParseCommand refused it already
}

// reboot answers "deferred" while an unlock is under way, then reboots when it ends. The final
// answer is published before Reboot is called, since Reboot may not return.
func (a *Agent) reboot(ctx context.Context, c mqtt.Client, res fleet.CommandResult) {
	a.mu.Lock()
	idle := a.idle
	busy := a.busy
	a.mu.Unlock()
	do := func() {
		res.Status, res.Reason = fleet.ResultOK, ""
		res.At = time.Now().UTC()
		a.answerWait(c, res)
		if err := a.cfg.Commands.Reboot(ctx); err != nil {
			res.Status, res.Reason = fleet.ResultFailed, err.Error()
			a.answer(c, res)
		}
	}
	if !busy {
		do()
		return
	}
	deferred := res
	deferred.Status, deferred.Reason = fleet.ResultDeferred, "an unlock is under way: rebooting when it ends"
	a.answer(c, deferred)
	go func() {
		select {
		case <-ctx.Done():
		case <-idle:
			do()
		}
	}()
}

func (a *Agent) answer(c mqtt.Client, res fleet.CommandResult) {
	go a.answerWait(c, res)
}

// answerWait publishes a result on the connection the command came on, or else on the current one.
func (a *Agent) answerWait(c mqtt.Client, res fleet.CommandResult) {
	if res.At.IsZero() {
		res.At = time.Now().UTC()
	}
	res.Reason = fleet.Scrub(res.Reason) // reasons may quote the kiosk's own errors
	b, err := json.Marshal(res)
	if err != nil {
		return
	}
	if c == nil || !c.IsConnectionOpen() {
		c = a.currentClient()
	}
	if c == nil {
		a.log.Warn("fleet link: command result not sent: offline", "command", res.ID, "status", res.Status)
		return
	}
	if t := c.Publish(fleet.ResultTopic(a.cfg.Kiosk), 1, false, b); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		a.log.Warn("fleet link: command result not sent", "command", res.ID, "status", res.Status, "err", t.Error())
		return
	}
	a.log.Info("fleet link: command answered", "command", res.ID, "name", res.Name, "status", res.Status)
}
