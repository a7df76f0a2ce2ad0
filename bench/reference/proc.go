package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// selfChild is this program run again with another subcommand.
type selfChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	dec   *json.Decoder
}

func startSelf(sub string, args []string) *selfChild {
	exe, err := os.Executable()
	must(err)
	cmd := exec.Command(exe, append([]string{sub}, args...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	must(err)
	stdout, err := cmd.StdoutPipe()
	must(err)
	must(cmd.Start())
	return &selfChild{cmd: cmd, stdin: stdin, dec: json.NewDecoder(stdout)}
}

// stop closes the child's standard input (its signal to exit) and waits.
func (c *selfChild) stop() {
	_ = c.stdin.Close()
	_ = c.cmd.Wait()
}

// raiseFileLimit lifts the soft limit on open files to the hard limit: every
// peer is one socket on each side.
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
