package daemon

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// completionFlags prints a completion script for one shell. The scripts are generated from
// commands() and each command's own flag set, so a new command or flag is completed without
// anyone remembering to edit three shell dialects.
func completionFlags(fs *flag.FlagSet, inv *invocation) func(context.Context) error {
	return func(context.Context) error {
		shells := map[string]func(io.Writer, []completionCommand){
			"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion,
		}
		shell := fs.Arg(0)
		write, ok := shells[shell]
		if !ok {
			if shell == "" {
				return usagef("completion", "completion: name the shell: bash, zsh or fish")
			}
			return usagef("completion", "completion: %q is not a shell we complete for: bash, zsh or fish", shell)
		}
		write(inv.p.Stdout, completionCommands())
		return nil
	}
}

// helpSummary describes the help command, which is not in commands().
const helpSummary = "show the commands, or one command's flags"

// completionCommand is what a completion script knows of one command.
type completionCommand struct {
	name, summary string
	flags         []completionFlag
	args          []string // words for its positional argument (completion: the shells)
}

type completionFlag struct {
	name, usage string
	value       bool // takes a value (every flag but a boolean one)
	file        bool // the value is a file name
}

// completionCommands reads the command table and registers each command's flags (and the
// global ones) on a scratch flag set; registering does no I/O and runs nothing.
func completionCommands() []completionCommand {
	var out []completionCommand
	for _, c := range commands() {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		inv := &invocation{}
		c.flags(fs, inv)
		inv.globalFlags(fs)
		cc := completionCommand{name: c.name, summary: c.summary, flags: completionFlagsOf(fs)}
		if c.name == "completion" {
			cc.args = []string{"bash", "zsh", "fish"}
		}
		out = append(out, cc)
	}
	return out
}

func globalCompletionFlags() []completionFlag {
	fs := flag.NewFlagSet("xerosync", flag.ContinueOnError)
	(&invocation{}).globalFlags(fs)
	return completionFlagsOf(fs)
}

// completionFlagsOf describes a flag set's flags: a flag whose usage names its value `FILE`
// (--config FILE, rotate-key's --new FILE) completes file names; a bool flag takes no value.
func completionFlagsOf(fs *flag.FlagSet) []completionFlag {
	var out []completionFlag
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		bf, isBool := f.Value.(interface{ IsBoolFlag() bool })
		out = append(out, completionFlag{name: f.Name, usage: usage,
			value: !(isBool && bf.IsBoolFlag()), file: name == "FILE"})
	})
	return out
}

func flagWords(flags []completionFlag) string {
	words := []string{"--help"}
	for _, f := range flags {
		words = append(words, "--"+f.name)
	}
	slices.Sort(words)
	return strings.Join(words, " ")
}

// bashCompletion finds the command word (skipping global flags and --config's value), then
// completes that command's flags, --config's file, or completion's shell.
func bashCompletion(w io.Writer, cmds []completionCommand) {
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	names = append(names, "help")
	var valued, files []string
	for _, c := range cmds {
		for _, f := range c.flags {
			list := &valued
			if f.file {
				list = &files
			}
			if f.value && !slices.Contains(*list, "--"+f.name) {
				*list = append(*list, "--"+f.name)
			}
		}
	}
	slices.Sort(valued)
	slices.Sort(files)
	fmt.Fprintf(w, `# bash completion for xerosync: xerosync completion bash > /usr/share/bash-completion/completions/xerosync
_xerosync() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd= i
	case $prev in
	%s|-config)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	%s)
		COMPREPLY=() # a value: nothing to offer
		return ;;
	esac
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--config|-config) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	local flags= args=
	case $cmd in
	'')
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W %q -- "$cur"))
		else
			COMPREPLY=($(compgen -W %q -- "$cur"))
		fi
		return ;;
	help) args=%q ;;
`, strings.Join(files, "|"), strings.Join(valued, "|"), flagWords(globalCompletionFlags()), strings.Join(names, " "), strings.Join(names[:len(names)-1], " "))
	for _, c := range cmds {
		fmt.Fprintf(w, "\t%s) flags=%q", c.name, flagWords(c.flags))
		if len(c.args) > 0 {
			fmt.Fprintf(w, " args=%q", strings.Join(c.args, " "))
		}
		fmt.Fprintln(w, " ;;")
	}
	fmt.Fprint(w, `	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
	else
		COMPREPLY=($(compgen -W "$args" -- "$cur"))
	fi
}
complete -F _xerosync xerosync
`)
}

// zshQuote makes s safe inside single quotes and inside _arguments' [description].
func zshQuote(s string) string {
	s = strings.NewReplacer("'", `'\''`, "[", "(", "]", ")").Replace(s)
	return s
}

func zshFlagSpecs(flags []completionFlag) string {
	var specs []string
	for _, f := range flags {
		spec := fmt.Sprintf("'--%s[%s]", f.name, zshQuote(f.usage))
		switch {
		case f.file:
			spec = fmt.Sprintf("'--%s=[%s]:file:_files", f.name, zshQuote(f.usage))
		case f.value:
			spec = fmt.Sprintf("'--%s=[%s]:%s: ", f.name, zshQuote(f.usage), f.name)
		}
		specs = append(specs, spec+"'")
	}
	return strings.Join(specs, " ")
}

func zshCompletion(w io.Writer, cmds []completionCommand) {
	fmt.Fprint(w, `#compdef xerosync
# zsh completion for xerosync: xerosync completion zsh > "${fpath[1]}/_xerosync"
_xerosync() {
	local curcontext=$curcontext state line ret=1
	local -a commands
	commands=(
`)
	for _, c := range cmds {
		fmt.Fprintf(w, "\t\t'%s:%s'\n", c.name, zshQuote(c.summary))
	}
	fmt.Fprintf(w, `		'help:%s'
	)
	_arguments -C %s '(- *)--help[show help]' '1: :->command' '*:: :->args' && ret=0
	case $state in
	command) _describe -t commands 'xerosync command' commands && ret=0 ;;
	args)
		case ${words[1]} in
		help) _describe -t commands 'xerosync command' commands && ret=0 ;;
`, zshQuote(helpSummary), zshFlagSpecs(globalCompletionFlags()))
	for _, c := range cmds {
		fmt.Fprintf(w, "\t\t%s) _arguments %s '(- *)--help[show help]'", c.name, zshFlagSpecs(c.flags))
		if len(c.args) > 0 {
			fmt.Fprintf(w, " '1:shell:(%s)'", strings.Join(c.args, " "))
		}
		fmt.Fprintln(w, " && ret=0 ;;")
	}
	fmt.Fprint(w, `		esac ;;
	esac
	return ret
}
_xerosync "$@"
`)
}

// fishQuote makes s safe inside fish's single quotes.
func fishQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s)
}

func fishCompletion(w io.Writer, cmds []completionCommand) {
	fmt.Fprint(w, `# fish completion for xerosync: xerosync completion fish > ~/.config/fish/completions/xerosync.fish
complete -c xerosync -f
complete -c xerosync -l help -d 'show help'
`)
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	for _, f := range globalCompletionFlags() {
		fishFlag(w, "", f)
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "complete -c xerosync -n __fish_use_subcommand -a %s -d '%s'\n", c.name, fishQuote(c.summary))
	}
	fmt.Fprintf(w, "complete -c xerosync -n __fish_use_subcommand -a help -d '%s'\n", fishQuote(helpSummary))
	fmt.Fprintf(w, "complete -c xerosync -n '__fish_seen_subcommand_from help' -a '%s'\n", strings.Join(names, " "))
	for _, c := range cmds {
		cond := "__fish_seen_subcommand_from " + c.name
		for _, f := range c.flags {
			if isGlobalFlag(f.name) {
				continue // global: completed everywhere already
			}
			fishFlag(w, cond, f)
		}
		if len(c.args) > 0 {
			fmt.Fprintf(w, "complete -c xerosync -n '%s' -a '%s'\n", cond, strings.Join(c.args, " "))
		}
	}
}

func fishFlag(w io.Writer, cond string, f completionFlag) {
	fmt.Fprint(w, "complete -c xerosync")
	if cond != "" {
		fmt.Fprintf(w, " -n '%s'", cond)
	}
	fmt.Fprintf(w, " -l %s", f.name)
	switch {
	case f.file:
		fmt.Fprint(w, " -r -F")
	case f.value:
		fmt.Fprint(w, " -x")
	}
	fmt.Fprintf(w, " -d '%s'\n", fishQuote(f.usage))
}
