#!/usr/bin/perl
# SPDX-License-Identifier: ISC
#
# Check the architecture rules of the tree (tools/layers.conf says which):
#
#   layer-include  a file includes a header of a higher layer
#   layer-symbol   an object uses a symbol defined by a higher layer
#   cycle-file     files whose objects call each other, round in a circle
#   cycle-dir      the same between directories
#   export         a global symbol of the library or module without the
#                  project prefix
#   function-length, file-length
#   config, build  the configuration or the build tree is not usable
#
# Usage: perl tools/lint.pl [--build DIR] [--config FILE] [--root DIR]
#
# One line per problem, "file:line: rule: message", then "lint: N problems".
# Exit 0 with no problem, 1 with some, 2 when the checks could not run.
# Perl core modules only, and nm: CI has nothing else.

use strict;
use warnings;

use Cwd qw(getcwd);
use File::Basename qw(dirname);
use File::Find qw(find);
use File::Spec;
use Getopt::Long qw(GetOptions);

my @problems;

sub main {
	my $opt = parse_args();
	chdir $opt->{root} or fatal("cannot enter $opt->{root}: $!");

	my $cfg = read_config($opt->{config});
	$cfg->{build} = $opt->{build};
	check_config($cfg);

	my @files = source_files($cfg);
	check_public_owners($cfg, \@files);
	check_includes($cfg, \@files);

	my $sym = read_objects($cfg, \@files);
	check_layer_symbols($cfg, $sym);
	check_cycles($sym);
	check_exports($cfg, $sym);

	check_lengths($cfg, \@files);

	print "$_\n" for @problems;
	my $n = @problems;
	printf "lint: %d problem%s\n", $n, $n == 1 ? "" : "s";
	exit($n ? 1 : 0);
}

sub fatal {
	print STDERR "lint: $_[0]\n";
	exit 2;
}

sub problem {
	my ($file, $line, $rule, $msg) = @_;

	push @problems, "$file:$line: $rule: $msg";
}

# Paths given on the command line are relative to where we were started;
# everything else is relative to the root, which is where we work (and
# what the messages show, so that they are short and clickable).
sub parse_args {
	my $here = getcwd();
	my %opt = (
		root	=> dirname(__FILE__) . "/..",
		build	=> "build",
	);

	GetOptions(\%opt, "build=s", "config=s", "root=s") && !@ARGV or
	    fatal("usage: lint.pl [--build DIR] [--config FILE] [--root DIR]");
	$opt{root} = File::Spec->rel2abs($opt{root}, $here);
	$opt{config} = defined $opt{config} ?
	    File::Spec->rel2abs($opt{config}, $here) :
	    "$opt{root}/tools/layers.conf";
	$opt{build} = File::Spec->rel2abs($opt{build}, $here);
	$opt{$_} = shown($opt{$_}, $opt{root}) for qw(config build);
	return \%opt;
}

# A path as the messages show it: relative to the root when inside it.
sub shown {
	my ($path, $root) = @_;
	my $rel = File::Spec->abs2rel($path, $root);

	return $rel =~ m{^\.\.(/|$)} ? $path : $rel;
}

sub clean_path {
	my ($p) = @_;

	$p =~ s{^\./}{};
	$p =~ s{/+$}{};
	return $p;
}

# True if $file is $path or below the directory $path.
sub under {
	my ($file, $path) = @_;

	return $file eq $path || index($file, "$path/") == 0;
}

#
# The configuration.
#
# A line is "LAYER PATH..." (layers bottom-up, in the order of their first
# line) or one of the directives below. A comment runs from # to the end.
#

my %DIRECTIVE = (
	"public"	=> \&conf_public,
	"public-owner"	=> \&conf_public_owner,
	"include-path"	=> \&conf_include_path,
	"export-prefix"	=> \&conf_export_prefix,
	"export-ok"	=> \&conf_export_ok,
	"exports"	=> \&conf_exports,
	"long-ok"	=> \&conf_long_ok,
	"max-function"	=> \&conf_max,
	"max-file"	=> \&conf_max,
);

sub read_config {
	my ($path) = @_;
	my %cfg = (
		file		=> $path,
		layers		=> [],		# names, bottom-up
		rank		=> {},		# name -> 0, 1, ...
		owns		=> [],		# [ path, layer, line ]
		public		=> [],		# [ dir, default owner, line ]
		public_owner	=> {},		# header -> [ layer, line ]
		include		=> [],		# [ dir, line ]
		export_prefix	=> [],
		export_ok	=> {},		# symbol -> line
		exports		=> [],		# files in the build tree
		long_ok		=> {},		# "file function" -> line
		"max-function"	=> 60,
		"max-file"	=> 600,
	);

	open my $fh, "<", $path or fatal("$path: $!");
	while (my $text = <$fh>) {
		$text =~ s/#.*//;
		my ($key, @args) = split " ", $text;
		next unless defined $key;
		my $fn = $DIRECTIVE{$key} // \&conf_layer;
		$fn->(\%cfg, $., $key, @args);
	}
	close $fh;

	$cfg{export_prefix} = [ "wecom_", "WECOM_" ] unless
	    @{$cfg{export_prefix}};
	$cfg{exports} = [ "libwecom.a", "wecom.so" ] unless @{$cfg{exports}};
	return \%cfg;
}

sub conf_problem {
	my ($cfg, $line, $msg) = @_;

	problem($cfg->{file}, $line, "config", $msg);
}

sub conf_layer {
	my ($cfg, $line, $name, @paths) = @_;

	conf_problem($cfg, $line, "layer $name owns no path") unless @paths;
	unless (exists $cfg->{rank}{$name}) {
		$cfg->{rank}{$name} = @{$cfg->{layers}};
		push @{$cfg->{layers}}, $name;
	}
	push @{$cfg->{owns}}, [ clean_path($_), $name, $line ] for @paths;
}

# "public DIR [LAYER]": DIR holds public headers; LAYER, if given, owns
# those that have no public-owner line of their own.
sub conf_public {
	my ($cfg, $line, $key, $dir, $owner, @rest) = @_;

	return conf_problem($cfg, $line, "usage: public DIR [LAYER]")
	    if !defined $dir || @rest;
	push @{$cfg->{public}}, [ clean_path($dir), $owner, $line ];
}

# "public-owner HEADER LAYER": HEADER (a path, or a name inside a public
# directory) is implemented by LAYER: only LAYER and those above may
# include it.
sub conf_public_owner {
	my ($cfg, $line, $key, $hdr, $layer, @rest) = @_;

	return conf_problem($cfg, $line, "usage: public-owner HEADER LAYER")
	    if !defined $layer || @rest;
	$cfg->{public_owner}{clean_path($hdr)} = [ $layer, $line ];
}

sub conf_include_path {
	my ($cfg, $line, $key, @dirs) = @_;

	push @{$cfg->{include}}, map { [ clean_path($_), $line ] } @dirs;
}

sub conf_export_prefix {
	my ($cfg, $line, $key, @prefixes) = @_;

	push @{$cfg->{export_prefix}}, @prefixes;
}

sub conf_export_ok {
	my ($cfg, $line, $key, @symbols) = @_;

	$cfg->{export_ok}{$_} = $line for @symbols;
}

sub conf_exports {
	my ($cfg, $line, $key, @files) = @_;

	push @{$cfg->{exports}}, @files;
}

sub conf_long_ok {
	my ($cfg, $line, $key, $file, $fn, @rest) = @_;

	return conf_problem($cfg, $line, "usage: long-ok FILE FUNCTION")
	    if !defined $fn || @rest;
	$cfg->{long_ok}{clean_path($file) . " $fn"} = $line;
}

sub conf_max {
	my ($cfg, $line, $key, $n, @rest) = @_;

	return conf_problem($cfg, $line, "usage: $key LINES")
	    if !defined $n || $n !~ /^\d+$/ || @rest;
	$cfg->{$key} = $n;
}

# A typo in the configuration must not quietly turn a check off: every
# path must exist and every layer named must be defined.
sub check_config {
	my ($cfg) = @_;

	conf_problem($cfg, 1, "no layer defined") unless @{$cfg->{layers}};
	for my $o (@{$cfg->{owns}}) {
		conf_problem($cfg, $o->[2], "layer $o->[1]: $o->[0]: no such " .
		    "file or directory") unless -e $o->[0];
	}
	for my $p (@{$cfg->{public}}) {
		conf_problem($cfg, $p->[2], "public $p->[0]: no such file or " .
		    "directory") unless -e $p->[0];
		check_layer_name($cfg, $p->[1], $p->[2]) if defined $p->[1];
	}
	for my $hdr (sort keys %{$cfg->{public_owner}}) {
		my ($layer, $line) = @{$cfg->{public_owner}{$hdr}};
		check_layer_name($cfg, $layer, $line);
	}
}

sub check_layer_name {
	my ($cfg, $layer, $line) = @_;

	conf_problem($cfg, $line, "no layer named $layer")
	    unless exists $cfg->{rank}{$layer};
}

#
# The files: every .c and .h below the layers' paths and the public
# directories.
#

sub source_files {
	my ($cfg) = @_;
	my %seen;

	for my $o (@{$cfg->{owns}}, @{$cfg->{public}}) {
		next unless -e $o->[0];
		find({ no_chdir => 1, wanted => sub {
			$seen{clean_path($_)} = 1 if -f $_ && /\.[ch]$/;
		} }, $o->[0]);
	}
	return sort keys %seen;
}

my %lines_cache;

sub lines_of {
	my ($file) = @_;

	return $lines_cache{$file} //= do {
		open my $fh, "<", $file or fatal("$file: $!");
		my @lines = <$fh>;
		chomp @lines;
		\@lines;
	};
}

sub public_dir_of {
	my ($cfg, $file) = @_;

	for my $p (@{$cfg->{public}}) {
		return $p if under($file, $p->[0]);
	}
	return undef;
}

# The layer of a file: a public header's owner; otherwise the layer with
# the longest path containing the file (a file named in a layer beats
# the directory it is in, framework/util beats framework).
sub layer_of {
	my ($cfg, $file) = @_;

	if (my $p = public_dir_of($cfg, $file)) {
		my $o = $cfg->{public_owner}{$file} //
		    $cfg->{public_owner}{File::Spec->abs2rel($file, $p->[0])};
		return $o ? $o->[0] : $p->[1];
	}
	my ($layer, $len) = (undef, -1);
	for my $o (@{$cfg->{owns}}) {
		next unless under($file, $o->[0]) && length $o->[0] > $len;
		($layer, $len) = ($o->[1], length $o->[0]);
	}
	return $layer;
}

sub rank {
	my ($cfg, $layer) = @_;

	return $cfg->{rank}{$layer} // -1;
}

# Without an owner a public header could be included from anywhere.
sub check_public_owners {
	my ($cfg, $files) = @_;

	for my $file (@$files) {
		next unless public_dir_of($cfg, $file) && $file =~ /\.h$/;
		next if defined layer_of($cfg, $file);
		problem($file, 1, "config", "public header without an owner: " .
		    "add 'public-owner $file LAYER' to $cfg->{file}");
	}
}

#
# Layers, in the sources: #include "x.h" only from the same layer or
# below.
#

sub check_includes {
	my ($cfg, $files) = @_;

	for my $file (@$files) {
		my $layer = layer_of($cfg, $file) // next;
		my $lines = lines_of($file);
		for my $i (0 .. $#$lines) {
			check_include($cfg, $file, $i + 1, $layer, $1)
			    if $lines->[$i] =~ /^\s*#\s*include\s*"([^"]+)"/;
		}
	}
}

sub check_include {
	my ($cfg, $file, $line, $layer, $name) = @_;
	my $hdr = resolve_include($cfg, $file, $name);

	unless (defined $hdr) {
		problem($file, $line, "layer-include", "\"$name\" not found " .
		    "beside the file nor in the include-path of $cfg->{file}");
		return;
	}
	# Outside every layer: generated, or not ours to judge.
	my $owner = layer_of($cfg, $hdr) // return;
	return if rank($cfg, $owner) <= rank($cfg, $layer);
	problem($file, $line, "layer-include", "\"$name\" is $hdr, of layer " .
	    "$owner, above this file's layer $layer");
}

# As the compiler looks for "x.h": beside the file, then along the -I
# path (include-path in the configuration; $BUILD is the build tree).
sub resolve_include {
	my ($cfg, $file, $name) = @_;
	my @dirs = (dirname($file), map { $_->[0] } @{$cfg->{include}});

	for my $dir (@dirs) {
		$dir =~ s/\$\(?BUILD\)?/$cfg->{build}/g;
		my $path = $dir eq "." ? $name : "$dir/$name";
		return clean_path(File::Spec->canonpath($path)) if -f $path;
	}
	return undef;
}

#
# The objects: what each defines and uses, from nm.
#

# Names the compiler, the linker or the C library make up; the C
# standard reserves the leading underscore for them.
sub ignored_symbol {
	return $_[0] =~ /^[._]/;
}

# Returns { def => { symbol => source }, uses => { source => { symbol } } }
# for the objects the build made of the layered .c files.
sub read_objects {
	my ($cfg, $files) = @_;
	my (%source, %def, %uses);

	for my $src (grep { /\.c$/ } @$files) {
		(my $obj = "$cfg->{build}/$src") =~ s/\.c$/.o/;
		if (-f $obj) {
			$source{$obj} = $src;
		} else {
			problem($src, 1, "build", "no object $obj: build " .
			    "first (make BUILD=$cfg->{build} all)");
		}
	}
	for my $s (nm([ "-A", "-P" ], sort keys %source)) {
		my ($obj, $name, $type) = @$s;
		my $src = $source{$obj} // next;
		next if ignored_symbol($name);
		if ($type =~ /^[Uwv]$/) {
			$uses{$src}{$name} = 1;
		} elsif ($type =~ /^[A-TV-Z]$/) {
			$def{$name} //= $src;
		}
	}
	return { def => \%def, uses => \%uses };
}

# One nm for many files: starting sixty processes would be the slow part.
# Returns [ file, symbol, type ] for each line of "nm -A -P".
sub nm {
	my ($flags, @files) = @_;
	my @out;

	return () unless @files;
	open my $fh, "-|", "nm", @$flags, @files or fatal("cannot run nm: $!");
	while (<$fh>) {
		push @out, [ $1, $2, $3 ] if /^(.+?): (\S+) (\S)/;
	}
	close $fh or fatal("nm @$flags failed on @files");
	return @out;
}

# The files' call graph: source -> { source it calls -> edge }, where an
# edge is [ from file, to file, one symbol the call uses ].
sub call_graph {
	my ($sym) = @_;
	my %g;

	for my $src (sort keys %{$sym->{uses}}) {
		for my $name (sort keys %{$sym->{uses}{$src}}) {
			my $to = $sym->{def}{$name} // next;
			next if $to eq $src;
			$g{$src}{$to} //= [ $src, $to, $name ];
		}
	}
	return \%g;
}

#
# Layers, in the objects: a symbol used must be defined in the same layer
# or below. Includes alone would miss a prototype copied by hand.
#

sub check_layer_symbols {
	my ($cfg, $sym) = @_;

	for my $src (sort keys %{$sym->{uses}}) {
		my $layer = layer_of($cfg, $src) // next;
		for my $name (sort keys %{$sym->{uses}{$src}}) {
			my $to = $sym->{def}{$name} // next;
			my $owner = layer_of($cfg, $to) // next;
			next if rank($cfg, $owner) <= rank($cfg, $layer);
			problem($src, ref_line($src, $name), "layer-symbol",
			    "$name is defined in $to, of layer $owner, above " .
			    "this file's layer $layer");
		}
	}
}

#
# Cycles: files, and directories, that depend on each other cannot be
# understood, tested or moved one at a time.
#

sub check_cycles {
	my ($sym) = @_;
	my $files = call_graph($sym);
	my $dirs = dir_graph($files);

	report_cycle("cycle-file", "files", $files, $_) for sccs($files);
	report_cycle("cycle-dir", "directories", $dirs, $_) for sccs($dirs);
}

# The same between directories, with the first edge between files that
# made each edge.
sub dir_graph {
	my ($files) = @_;
	my %g;

	for my $from (sort keys %$files) {
		for my $to (sort keys %{$files->{$from}}) {
			my ($df, $dt) = (dirname($from), dirname($to));
			$g{$df}{$dt} //= $files->{$from}{$to} unless $df eq $dt;
		}
	}
	return \%g;
}

# One line per component: its members, and one way round it with what
# each step uses, so that the reader knows where to cut. The line shown
# is where the first step's file uses the symbol.
sub report_cycle {
	my ($rule, $what, $g, $scc) = @_;
	my @path = cycle_path($g, $scc);
	my @steps = ($path[0]);

	for my $i (1 .. $#path) {
		my ($from, $to, $name) = @{$g->{$path[$i - 1]}{$path[$i]}};
		push @steps, $rule eq "cycle-file" ? "$path[$i] ($name)" :
		    "$path[$i] ($from -> $to: $name)";
	}
	my ($file, undef, $name) = @{$g->{$path[0]}{$path[1]}};
	problem($file, ref_line($file, $name), $rule, scalar(@$scc) .
	    " $what depend on each other: @$scc; e.g. " .
	    join(" -> ", @steps));
}

# The strongly connected components of more than one node (Tarjan),
# each sorted, in the order of their first member.
sub sccs {
	my ($g) = @_;
	my $st = { g => $g, n => 0, index => {}, low => {}, on => {},
	    stack => [], out => [] };
	my %nodes = map { $_ => 1 } keys %$g, map { keys %$_ } values %$g;

	for my $v (sort keys %nodes) {
		strongconnect($st, $v) unless exists $st->{index}{$v};
	}
	return sort { $a->[0] cmp $b->[0] } grep { @$_ > 1 } @{$st->{out}};
}

sub strongconnect {
	my ($st, $v) = @_;
	no warnings "recursion";	# as deep as the longest call chain

	$st->{index}{$v} = $st->{low}{$v} = $st->{n}++;
	push @{$st->{stack}}, $v;
	$st->{on}{$v} = 1;
	for my $w (sort keys %{$st->{g}{$v} // {}}) {
		if (!exists $st->{index}{$w}) {
			strongconnect($st, $w);
			$st->{low}{$v} = min($st->{low}{$v}, $st->{low}{$w});
		} elsif ($st->{on}{$w}) {
			$st->{low}{$v} = min($st->{low}{$v}, $st->{index}{$w});
		}
	}
	return unless $st->{low}{$v} == $st->{index}{$v};

	my @scc;
	while (1) {
		my $w = pop @{$st->{stack}};
		$st->{on}{$w} = 0;
		push @scc, $w;
		last if $w eq $v;
	}
	push @{$st->{out}}, [ sort @scc ];
}

sub min {
	return $_[0] < $_[1] ? $_[0] : $_[1];
}

# A shortest way from the component's first member back to it
# (breadth first, inside the component): first, ..., first.
sub cycle_path {
	my ($g, $scc) = @_;
	my %in = map { $_ => 1 } @$scc;
	my $start = $scc->[0];
	my %prev;
	my @queue = ($start);

	while (defined(my $v = shift @queue)) {
		for my $w (sort keys %{$g->{$v}}) {
			next unless $in{$w};
			if ($w eq $start) {
				my @path = ($v);
				unshift @path, $prev{$path[0]}
				    while $path[0] ne $start;
				return (@path, $start);
			}
			next if exists $prev{$w};
			$prev{$w} = $v;
			push @queue, $w;
		}
	}
	return ($start);	# not reached: $scc is strongly connected
}

#
# Exports: the library and the module share one namespace with Kore,
# libc and every app; only the prefix keeps ours apart.
#

sub check_exports {
	my ($cfg, $sym) = @_;
	my $prefixes = join(" or ", @{$cfg->{export_prefix}});
	my %exported;

	for my $e (@{$cfg->{exports}}) {
		my $file = "$cfg->{build}/$e";
		unless (-f $file) {
			problem($file, 1, "build", "no $file: build first");
			next;
		}
		# A module's exports are its dynamic symbols.
		my @flags = ("-A", "-P", "-g", "--defined-only");
		push @flags, "-D" if $file =~ /\.so(\.|$)/;
		$exported{$_->[1]} //= $file for nm(\@flags, $file);
	}
	for my $name (sort keys %exported) {
		next if ignored_symbol($name) || has_prefix($cfg, $name) ||
		    exists $cfg->{export_ok}{$name};
		my $src = $sym->{def}{$name};
		my $line = $src ? def_line($src, $name) : 1;
		problem($src // $exported{$name}, $line, "export", "$name is " .
		    "global without the $prefixes prefix: make it static, " .
		    "rename it, or add 'export-ok'");
	}
	check_stale_export_ok($cfg, \%exported) if %exported;
}

sub has_prefix {
	my ($cfg, $name) = @_;

	for my $p (@{$cfg->{export_prefix}}) {
		return 1 if index($name, $p) == 0;
	}
	return 0;
}

# An allowance nobody uses any more would allow the next mistake.
sub check_stale_export_ok {
	my ($cfg, $exported) = @_;
	my $ok = $cfg->{export_ok};

	for my $name (sort { $ok->{$a} <=> $ok->{$b} } keys %$ok) {
		next if $exported->{$name};
		conf_problem($cfg, $ok->{$name}, "export-ok $name: exported " .
		    "by none of the checked files: remove it");
	}
}

# Where a symbol is defined: a KNF function has its name at column 0;
# a variable's name is followed by "[", "=" or ";".
sub def_line {
	my ($file, $name) = @_;
	my $lines = lines_of($file);

	for my $i (0 .. $#$lines) {
		return $i + 1 if $lines->[$i] =~ /^\Q$name\E\s*\(/ ||
		    $lines->[$i] =~ /^\w.*\b\Q$name\E\s*(\[.*)?[=;]/;
	}
	return ref_line($file, $name);
}

# The first line that names the symbol; 1 if a macro hides it.
sub ref_line {
	my ($file, $name) = @_;
	my $lines = lines_of($file);

	return 1 if $name eq "";
	for my $i (0 .. $#$lines) {
		return $i + 1 if $lines->[$i] =~ /\b\Q$name\E\b/;
	}
	return 1;
}

#
# Length: a function must fit in a reader's head, a file in one sitting.
#

sub check_lengths {
	my ($cfg, $files) = @_;
	my $max_fn = $cfg->{"max-function"};
	my $max_file = $cfg->{"max-file"};
	my %long;	# "file function" -> length, for the long-ok check

	for my $file (@$files) {
		my $lines = lines_of($file);
		problem($file, $max_file + 1, "file-length", scalar(@$lines) .
		    " lines (at most $max_file)") if @$lines > $max_file;
		for my $fn (functions($lines)) {
			my $key = "$file $fn->{name}";
			next unless $fn->{length} > $max_fn;
			$long{$key} = $fn->{length};
			next if exists $cfg->{long_ok}{$key};
			problem($file, $fn->{line}, "function-length",
			    "$fn->{name}() is $fn->{length} lines (at most " .
			    "$max_fn, counting its braces)");
		}
	}
	check_stale_long_ok($cfg, \%long);
}

sub check_stale_long_ok {
	my ($cfg, $long) = @_;
	my $ok = $cfg->{long_ok};

	for my $key (sort { $ok->{$a} <=> $ok->{$b} } keys %$ok) {
		next if $long->{$key};
		conf_problem($cfg, $ok->{$key}, "long-ok $key: no such " .
		    "function over $cfg->{'max-function'} lines: remove it");
	}
}

# The functions of a KNF file: the body opens with "{" alone at column 0
# and closes with "}" alone at column 0. Initializers and structs end
# with "};" and mostly open at the end of a line: not functions.
sub functions {
	my ($lines) = @_;
	my (@fns, $open);

	for my $i (0 .. $#$lines) {
		if ($lines->[$i] =~ m{^\{\s*(/\*.*)?$}) {
			$open = $i;
		} elsif (defined $open && $lines->[$i] =~ m{^\}\s*(/\*.*)?$}) {
			my ($name, $line) = function_name($lines, $open);
			push @fns, { name => $name, line => $line,
			    length => $i - $open + 1 } if defined $name;
			undef $open;
		}
	}
	return @fns;
}

# The name is on the nearest line above the "{" that starts at column 0
# (parameters may continue, indented, below it; #if lines are skipped).
# If that line has no "(", the block is a struct or some data: undef.
sub function_name {
	my ($lines, $open) = @_;

	for (my $i = $open - 1; $i >= 0; $i--) {
		next if $lines->[$i] =~ /^(\s|#)/;
		return $lines->[$i] =~ /^(?:.*?[\s*])?(\w+)\s*\(/ ?
		    ($1, $i + 1) : ();
	}
	return ();
}

main();
