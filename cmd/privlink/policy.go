package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/privlink/privlink/internal/policy"
)

const policyUsage = `Usage:
  privlink policy validate [--kind KIND] FILE
      Validate an IAM policy document. KIND is identity, resource, endpoint,
      scp, rcp, boundary, session or trust (guessed when omitted: a Principal
      makes it a resource policy). Exit 0 when valid, 1 when not.
  privlink policy simulate --input FILE
      Evaluate the request and policies in FILE (JSON: {"request": {...},
      "policies": {...}}) and print the decision as JSON. Exit 2 on bad input.
`

// runPolicy is `privlink policy`.
func runPolicy(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return 2
	}
	switch args[0] {
	case "validate":
		return runPolicyValidate(args[1:], stdout, stderr)
	case "simulate":
		return runPolicySimulate(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, policyUsage)
		return 0
	}
	fmt.Fprintf(stderr, "privlink policy: unknown command %q\n\n%s", args[0], policyUsage)
	return 2
}

func runPolicyValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", "", "identity, resource, endpoint, scp, rcp, boundary, session or trust")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, "privlink policy validate: exactly one FILE is required\n\n"+policyUsage)
		return 2
	}
	doc, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "privlink policy validate: %v\n", err)
		return 2
	}
	k, msgs, err := policy.ValidateDocument(doc, *kind)
	if err != nil {
		fmt.Fprintf(stderr, "privlink policy validate: --kind: %v\n", err)
		return 2
	}
	if len(msgs) > 0 {
		for _, m := range msgs {
			fmt.Fprintf(stdout, "%s: %s\n", fs.Arg(0), m)
		}
		fmt.Fprintf(stdout, "%s: invalid %s policy (%d problem(s))\n", fs.Arg(0), k, len(msgs))
		return 1
	}
	fmt.Fprintf(stdout, "%s: valid %s policy\n", fs.Arg(0), k)
	return 0
}

func runPolicySimulate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	input := fs.String("input", "", "JSON file with the request and policies ('-' for stdin)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *input == "" || fs.NArg() != 0 {
		fmt.Fprint(stderr, "privlink policy simulate: --input FILE is required\n\n"+policyUsage)
		return 2
	}
	var (
		data []byte
		err  error
	)
	if *input == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(*input)
	}
	if err != nil {
		fmt.Fprintf(stderr, "privlink policy simulate: %v\n", err)
		return 2
	}
	out, err := policy.Simulate(data)
	if err != nil {
		var ve *policy.ValidationError
		if errors.As(err, &ve) {
			for _, m := range ve.Messages {
				fmt.Fprintf(stderr, "privlink policy simulate: %s\n", m)
			}
		} else {
			fmt.Fprintf(stderr, "privlink policy simulate: %v\n", err)
		}
		return 2
	}
	fmt.Fprintf(stdout, "%s\n", out)
	return 0
}
