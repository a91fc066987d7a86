package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/privlink/privlink/internal/dataplane"
)

// runExec runs a command inside an instance's namespaces. It finds the
// instance's network interface with a DescribeInstances call signed with
// the caller's own AWS credentials (so accounts stay walls), then enters
// the namespace the server created for it.
func runExec(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prefix := fs.String("dataplane-prefix", "pl", "the server's --dataplane-prefix")
	endpoint := fs.String("endpoint-url", os.Getenv("AWS_ENDPOINT_URL"), "privlink API endpoint (default $AWS_ENDPOINT_URL)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: privlink exec [--endpoint-url URL] INSTANCE-ID -- COMMAND [ARG...]")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	if len(rest) >= 2 && rest[1] == "--" {
		rest = append(rest[:1], rest[2:]...)
	}
	if len(rest) < 2 {
		fs.Usage()
		return 2
	}
	instanceID, argv := rest[0], rest[1:]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	eni, err := instanceInterface(ctx, *endpoint, instanceID)
	if err != nil {
		fmt.Fprintf(stderr, "privlink exec: %v\n", err)
		return 1
	}
	cfg := dataplane.DefaultConfig()
	cfg.Prefix = *prefix
	dp, err := dataplane.New(cfg, nil)
	if err != nil {
		fmt.Fprintf(stderr, "privlink exec: %v\n", err)
		return 1
	}
	code, err := dp.Exec(ctx, eni, argv, stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "privlink exec: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func instanceInterface(ctx context.Context, endpoint, instanceID string) (string, error) {
	if endpoint == "" {
		return "", errors.New("no API endpoint: set AWS_ENDPOINT_URL or --endpoint-url")
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return "", fmt.Errorf("load AWS configuration: %w", err)
	}
	cfg.BaseEndpoint = aws.String(endpoint)
	out, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}})
	if err != nil {
		return "", err
	}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			if i.State != nil && i.State.Name != "running" {
				return "", fmt.Errorf("instance %s is %s, not running", instanceID, i.State.Name)
			}
			for _, n := range i.NetworkInterfaces {
				if n.NetworkInterfaceId != nil {
					return *n.NetworkInterfaceId, nil
				}
			}
		}
	}
	return "", fmt.Errorf("instance %s has no network interface", instanceID)
}
