#!/usr/bin/perl
# SPDX-License-Identifier: ISC
#
# tools/lint.pl: each rule fails on a small tree made to break it (built
# here with cc, ar and nm, as the Makefile builds ours), and the real
# tree passes.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Test::More;

my $ROOT = abs_path(dirname(__FILE__) . "/..");
my $LINT = "$ROOT/tools/lint.pl";
my $CC = $ENV{CC} // "cc";

# Two layers, low/ below high/, each with a header; high calls low.
my %BASE = (
	"tools/layers.conf"	=> "low low\nhigh high\ninclude-path low high\n",
	"low/low.h"		=> "int\twecom_low(void);\n",
	"low/low.c"		=> c_file([ "low.h" ], func("wecom_low", 5)),
	"high/high.h"		=> "int\twecom_high(void);\n",
	"high/high.c"		=> c_file([ "low.h", "high.h" ],
	    func("wecom_high", 5, "wecom_low")),
);

# A C file: quoted includes, then the functions given.
sub c_file {
	my ($includes, @funcs) = @_;

	return join("", map { "#include \"$_\"\n" } @$includes) . "\n" .
	    join("\n", @funcs);
}

# A KNF function of exactly $lines lines from its "{" to its "}", that
# calls each of @calls (declared by hand, so no header is needed).
sub func {
	my ($name, $lines, @calls) = @_;
	my $decl = join("", map { "int\t$_(void);\n" } @calls);
	my @body = map { "\t(void)$_();\n" } @calls;

	push @body, "\tn++;\n" while @body < $lines - 4;
	return "${decl}int\n$name(void)\n{\n\tint\tn = 0;\n" . join("", @body) .
	    "\treturn (n);\n}\n";
}

# The base tree with %files added (undef: a base file removed), built:
# build/<path>.o for each .c, build/libwecom.a of low/, build/wecom.so
# of everything.
sub tree {
	my (%files) = @_;
	my %all = (%BASE, %files);
	my $dir = tempdir(CLEANUP => 1);
	my @objs;

	for my $path (sort keys %all) {
		write_file("$dir/$path", $all{$path}) if defined $all{$path};
	}
	for my $path (sort keys %all) {
		next unless defined $all{$path} && $path =~ /\.c$/;
		(my $obj = "$dir/build/$path") =~ s/\.c$/.o/;
		make_path(dirname($obj));
		run($CC, "-std=c99", "-fPIC", "-c", "-I$dir/low", "-I$dir/high",
		    "-I$dir/pub", "-o", $obj, "$dir/$path");
		push @objs, $obj;
	}
	run("ar", "rcs", "$dir/build/libwecom.a", grep { m{/build/low/} } @objs);
	run($CC, "-shared", "-o", "$dir/build/wecom.so", @objs);
	return $dir;
}

sub write_file {
	my ($path, $text) = @_;

	make_path(dirname($path));
	open my $fh, ">", $path or die "$path: $!";
	print $fh $text;
	close $fh or die "$path: $!";
}

sub run {
	system(@_) == 0 or die "failed: @_\n";
}

# Runs the linter on a tree: (exit code, problem lines, whole output).
sub lint {
	my ($dir, @args) = @_;
	my $out = qx{perl "$LINT" --root "$dir" --build "$dir/build" @args 2>&1};
	my $rc = $? >> 8;
	my @problems = grep { !/^lint: \d+ problems?$/ } split /\n/, $out;

	return ($rc, \@problems, $out);
}

# The tree fails with exactly the problems matching @want, in any order.
sub fails_with {
	my ($name, $dir, $want, @args) = @_;
	my ($rc, $problems, $out) = lint($dir, @args);
	my $n = @$problems;
	my $ok = $rc == 1 && $n == @$want &&
	    $out =~ /^lint: $n problems?$/m;

	for my $re (@$want) {
		$ok = 0 unless grep { /$re/ } @$problems;
	}
	ok($ok, $name) or diag($out);
}

{
	my ($rc, $problems, $out) = lint(tree());
	ok($rc == 0 && !@$problems && $out eq "lint: 0 problems\n",
	    "a tree that keeps every rule passes with 'lint: 0 problems'")
	    or diag($out);
}

fails_with("an include of a higher layer's header fails",
    tree("low/up.c" => c_file([ "high.h" ], func("wecom_up", 3))),
    [ qr{^low/up\.c:1: layer-include: "high\.h" is high/high\.h, of layer high} ]);

fails_with("an include found nowhere fails",
    tree("low/lost.h" => "#include \"nowhere.h\"\n"),
    [ qr{^low/lost\.h:1: layer-include: "nowhere\.h" not found} ]);

# Declared by hand, so the includes are clean: only the objects tell.
fails_with("a call to a higher layer fails, naming both files and the symbol",
    tree("low/sneak.c" => c_file([], func("wecom_sneak", 3, "wecom_high"))),
    [ qr{^low/sneak\.c:\d+: layer-symbol: wecom_high is defined in high/high\.c, of layer high},
      qr{: cycle-dir: 2 directories depend on each other: high low} ]);

fails_with("two files calling each other fail",
    tree("high/a.c" => c_file([], func("wecom_a", 3, "wecom_b")),
	"high/b.c" => c_file([], func("wecom_b", 3, "wecom_a"))),
    [ qr{^high/a\.c:\d+: cycle-file: 2 files depend on each other: high/a\.c high/b\.c; e\.g\. high/a\.c -> high/b\.c \(wecom_b\) -> high/a\.c \(wecom_a\)} ]);

fails_with("a longer cycle is reported once, with every member",
    tree("high/a.c" => c_file([], func("wecom_a", 3, "wecom_b")),
	"high/b.c" => c_file([], func("wecom_b", 3, "wecom_c")),
	"high/c.c" => c_file([], func("wecom_c", 3, "wecom_a"))),
    [ qr{cycle-file: 3 files depend on each other: high/a\.c high/b\.c high/c\.c;} ]);

# No two files call each other, but the directories do.
fails_with("two directories calling each other fail",
    tree("high/x/one.c" => c_file([], func("wecom_one", 3, "wecom_two")),
	"high/y/two.c" => c_file([], func("wecom_two", 3)),
	"high/y/three.c" => c_file([], func("wecom_three", 3, "wecom_four")),
	"high/x/four.c" => c_file([], func("wecom_four", 3))),
    [ qr{^high/x/one\.c:\d+: cycle-dir: 2 directories depend on each other: high/x high/y; e\.g\. high/x -> high/y \(high/x/one\.c -> high/y/two\.c: wecom_two\) -> high/x \(high/y/three\.c -> high/x/four\.c: wecom_four\)} ]);

{
	my $dir = tree(
	    "tools/layers.conf" => $BASE{"tools/layers.conf"} .
		"export-ok kore_worker_configure\n",
	    "low/leak.c" => "int\tleak_count;\n\n" . func("leak", 3) .
		"\nstatic int\nquiet(void)\n{\n\treturn (leak_count);\n}\n",
	    "high/hook.c" => func("kore_worker_configure", 5) . "\n" .
		func("hook_extra", 5));

	fails_with("globals without the prefix fail, in the library and the " .
	    "module; statics and export-ok names do not", $dir,
	    [ qr{^low/leak\.c:1: export: leak_count is global without the wecom_ or WECOM_ prefix},
	      qr{^low/leak\.c:4: export: leak is global without},
	      qr{^high/hook\.c:10: export: hook_extra is global without} ]);
}

fails_with("an export-ok no longer needed fails",
    tree("tools/layers.conf" => $BASE{"tools/layers.conf"} .
	"export-ok wecom_low kore_gone\n"),
    [ qr{^tools/layers\.conf:4: config: export-ok kore_gone: exported by none} ]);

{
	# Tables longer than any function, with the brace at the end of
	# the line or alone: data, not functions.
	my $table = "const int\twecom_table[] = {\n" . "\t1,\n" x 100 . "};\n" .
	    "\nconst int\twecom_table2[] =\n{\n" . "\t2,\n" x 100 . "};\n" .
	    "\nstruct wecom_big\n{\n" . join("", map { "\tint\tm$_;\n" } 1 .. 100) .
	    "};\n";
	my $dir = tree("high/long.c" => c_file([], func("wecom_61", 61),
	    func("wecom_60", 60), $table));

	fails_with("a function of 61 lines fails; one of 60, long tables and a " .
	    "long struct do not", $dir,
	    [ qr{^high/long\.c:3: function-length: wecom_61\(\) is 61 lines \(at most 60} ]);
}

{
	my $conf = $BASE{"tools/layers.conf"} .
	    "long-ok high/long.c wecom_61\nlong-ok high/long.c wecom_short\n";
	my $dir = tree("tools/layers.conf" => $conf,
	    "high/long.c" => c_file([], func("wecom_61", 61),
		func("wecom_short", 5)));

	fails_with("long-ok exempts a function; one naming a short function fails",
	    $dir, [ qr{^tools/layers\.conf:5: config: long-ok high/long\.c wecom_short: no such function} ]);
}

fails_with("a file of 601 lines fails at line 601, one of 600 does not",
    tree("low/big.h" => "/* a line */\n" x 601,
	"low/fits.h" => "/* a line */\n" x 600),
    [ qr{^low/big\.h:601: file-length: 601 lines \(at most 600\)} ]);

fails_with("max-function and max-file are the configuration's",
    tree("tools/layers.conf" => $BASE{"tools/layers.conf"} .
	"max-function 4\nmax-file 10\n"),
    [ qr{^high/high\.c:6: function-length: wecom_high\(\) is 5 lines \(at most 4,},
      qr{^low/low\.c:4: function-length: wecom_low\(\) is 5 lines \(at most 4,},
      qr{^high/high\.c:11: file-length: 11 lines \(at most 10\)} ]);

{
	my $dir = tree();

	unlink("$dir/build/high/high.o") or die;
	unlink("$dir/build/wecom.so") or die;
	fails_with("a missing object or module fails: the checks must not " .
	    "pass for want of input", $dir,
	    [ qr{^high/high\.c:1: build: no object build/high/high\.o},
	      qr{^build/wecom\.so:1: build: no build/wecom\.so} ]);
}

{
	my $conf = "low low\nhigh high\npublic pub\n" .
	    "public-owner pub/api.h high\ninclude-path low high pub\n";
	my $dir = tree("tools/layers.conf" => $conf,
	    "pub/api.h" => "int\twecom_high(void);\n",
	    "pub/orphan.h" => "int\twecom_orphan(void);\n",
	    "high/use.c" => c_file([ "api.h" ], func("wecom_use", 3)),
	    "low/early.c" => c_file([ "api.h" ], func("wecom_early", 3)));

	fails_with("a public header is for its owner's layer and above; " .
	    "one without an owner fails", $dir,
	    [ qr{^low/early\.c:1: layer-include: "api\.h" is pub/api\.h, of layer high, above this file's layer low},
	      qr{^pub/orphan\.h:1: config: public header without an owner} ]);
}

fails_with("a path or a layer the configuration names must exist",
    tree("tools/layers.conf" => "low low lwo\nhigh high\n" .
	"include-path low high\npublic-owner low/low.h hihg\n"),
    [ qr{^tools/layers\.conf:1: config: layer low: lwo: no such file or directory},
      qr{^tools/layers\.conf:4: config: no layer named hihg} ]);

{
	my $dir = tree();

	rename("$dir/tools/layers.conf", "$dir/other.conf") or die;
	my ($rc, $problems, $out) = lint($dir, "--config", "$dir/other.conf");
	ok($rc == 0, "--config names another configuration") or diag($out);
}

# The real tree, as built by make (BUILD as in tests/run.sh).
SKIP: {
	my $build = $ENV{BUILD} // "build";

	$build = "$ROOT/$build" unless $build =~ m{^/};
	skip("no build in $build (make all first)", 1)
	    unless -f "$build/wecom.so" && -f "$build/libwecom.a";
	my $out = qx{perl "$LINT" --root "$ROOT" --build "$build" 2>&1};
	ok($? == 0, "the real tree keeps every rule") or diag($out);
}

done_testing();
