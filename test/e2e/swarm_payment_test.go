package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// swarmPayees are two child peers of a Swarm stack's connector, a payer and a payee, written into its peers
// file before up, so that a payment can cross the connector and post in its ledger.
type swarmPayees struct {
	payerToken, payeeToken string
}

// withPayees gives the connector a payer and a payee (ordinary BTP clients outside the swarm).
func (p *swarmProject) withPayees() swarmPayees {
	p.t.Helper()
	pp := swarmPayees{payerToken: randomHex(16), payeeToken: randomHex(16)}
	p.writeConfig("peers.yaml", fmt.Sprintf("peers:\n"+
		"  - id: payer\n    authToken: %s\n    ilpPrefix: g.m2m.%s.payer\n    relation: child\n    creditLimit: 1000000\n"+
		"  - id: payee\n    authToken: %s\n    ilpPrefix: g.m2m.%s.payee\n    relation: child\n    creditLimit: 1000000\n",
		pp.payerToken, p.name, pp.payeeToken, p.name))
	p.set(map[string]string{settings.PeersFile: stack.ContainerConfigDir + "/peers.yaml"})
	return pp
}

// pay sends one payment from the payer to the payee through the connector's BTP port on the edge node and
// waits until it is fulfilled: the connector posted it in its ledger.
func (p *swarmProject) pay(t *testing.T, pp swarmPayees, what string) {
	t.Helper()
	values, err := settings.Load(p.envFile)
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://" + net.JoinHostPort(p.swarm.Manager().IP, values.String(settings.BTPPort))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var preimage [32]byte
	rand.Read(preimage[:])
	condition := sha256.Sum256(preimage[:])
	payee, err := btp.Dial(ctx, btp.DialConfig{URL: url, Token: pp.payeeToken, PeerID: p.name,
		Session: btp.SessionConfig{Handler: btp.HandlerFunc(func(context.Context, string, []byte) []byte {
			fulfill, _ := (&ilp.Fulfill{Fulfillment: preimage}).MarshalBinary()
			return fulfill
		})}})
	if err != nil {
		t.Fatalf("%s: connect the payee over BTP to %s: %v", what, url, err)
	}
	defer payee.Close()
	payer, err := btp.Dial(ctx, btp.DialConfig{URL: url, Token: pp.payerToken, PeerID: p.name})
	if err != nil {
		t.Fatalf("%s: connect the payer over BTP to %s: %v", what, url, err)
	}
	defer payer.Close()
	eventually(t, time.Minute, what+": a payment from payer to payee is fulfilled", func() error {
		prepare := &ilp.Prepare{Amount: 1000, ExpiresAt: time.Now().Add(30 * time.Second), ExecutionCondition: condition,
			Destination: "g.m2m." + p.name + ".payee.invoice", Data: []byte("m2m e2e swarm")}
		packet, err := prepare.MarshalBinary()
		if err != nil {
			return err
		}
		reply, err := payer.SendPrepare(ctx, packet)
		if err != nil {
			return fmt.Errorf("send the Prepare: %w", err)
		}
		answer, err := ilp.Decode(reply)
		if err != nil {
			return fmt.Errorf("no ILP packet in answer: %w", err)
		}
		if f, ok := answer.(*ilp.Fulfill); !ok || !ilp.Fulfills(f.Fulfillment, condition) {
			return fmt.Errorf("answered %#v, want the payee's Fulfill", answer)
		}
		return nil
	})
}
