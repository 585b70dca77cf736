package client_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/pulsestream/pulsestream/client"
)

func ExampleNew() {
	c, err := client.New("https://pulse.example.com", os.Getenv("PULSESTREAM_KEY"),
		client.WithService("checkout"),
		client.OnRejected(func(r client.Rejection) { fmt.Fprintln(os.Stderr, "refused:", r) }),
		client.OnError(func(err error, evs []client.Event) { fmt.Fprintln(os.Stderr, len(evs), "events lost:", err) }),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Close(ctx) // delivers what is buffered, for at most 10 s
	}()
	err = c.Send(context.Background(), client.Event{
		EventType: "order.paid", Severity: client.SeverityInfo, UserID: "u-42",
		Tags:    map[string]string{"region": "eu-west-1"},
		Payload: map[string]any{"amount_cents": 1299},
	})
	if err != nil {
		log.Print(err)
	}
}

func ExampleNewSlogHandler() {
	c, err := client.New("https://pulse.example.com", os.Getenv("PULSESTREAM_KEY"),
		client.WithService("checkout"), client.WithDropWhenFull())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())
	slog.SetDefault(slog.New(client.NewSlogHandler(c, nil)))
	slog.Warn("slow payment", "endpoint", "/pay", "status_code", 502, "psp", "acme")
}
