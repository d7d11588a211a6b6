package chain_test

import (
	"io"
	"os"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/drover-dev/drover/test/agentproc"
)

// chainAgentEnv carries a child agent's spec (see agentproc.RunIfChild):
// the shell's attack tests connect a real agent in a child process.
const chainAgentEnv = "DROVER_CHAIN_TEST_AGENT"

func TestMain(m *testing.M) {
	// remotedialer logs every connect through the global logrus logger.
	logrus.SetOutput(io.Discard)
	agentproc.RunIfChild(chainAgentEnv)
	os.Exit(m.Run())
}
