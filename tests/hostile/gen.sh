# The generators of the hostile queue corpus (tests/hostile/cases), sourced
# by tests/integration/hostile-queue.sh.  Each starts from the message real
# sendmail queued for the case, $GQ/qf$ID and $GQ/df$ID, and leaves in $GQ
# (the case's own directory, laid out like the queue it goes to: $QQ for
# control files, $QDF for data files) exactly the entries the case is made
# of; the test moves them into the queue.  SECRET and OUTSIDE_QF are files
# outside the queue (OUTSIDE_QF a valid control file); a generator may set
# MARK, the text the runner's log line about the case contains (default:
# the queue ID).  Everything here runs as root.

# place: the qf and df where they belong.
place() {
	[ "$QQ" = "$GQ" ] || mv "$GQ/qf$ID" "$QQ/"
	[ "$QDF" = "$GQ" ] || mv "$GQ/df$ID" "$QDF/"
}

# rewrite FILE CMD...: FILE's contents through CMD, in place (same inode,
# owner and mode).
rewrite() {
	_f=$1
	shift
	"$@" <"$_f" >"$GQ/.tmp" && cat "$GQ/.tmp" >"$_f" && rm -f "$GQ/.tmp"
}

# The argument words SECRET and OUTSIDE_QF stand for those files.
target() {
	case $1 in
	SECRET) echo "$SECRET" ;;
	OUTSIDE_QF) echo "$OUTSIDE_QF" ;;
	*) echo "$1" ;;
	esac
}

qf_sed() { rewrite "$GQ/qf$ID" sed -e "$1"; place; }
# qf_insert LINE: LINE after the first (V) line.
qf_insert() { _l=$1; rewrite "$GQ/qf$ID" awk -v l="$_l" '{ print } NR == 1 { print l }'; place; }
# qf_before_r LINE: LINE before the first R line.
qf_before_r() { _l=$1; rewrite "$GQ/qf$ID" awk -v l="$_l" '/^R/ && !d { print l; d = 1 } { print }'; place; }
qf_after_dot() { printf 'H??X-Appended: after the end\n' >>"$GQ/qf$ID"; place; }
qf_no_dot() { qf_sed '/^\.$/d'; }
qf_d_line() { qf_insert "d$1"; }
qf_d_line_self() { qf_insert "d$QUEUE_PATH"; }
qf_d_line_parent() { qf_insert "d$QUEUE_PATH/.."; }
qf_f_from() { qf_insert "From attacker@example.test Tue Dec  1 00:00:00 2026"; }
qf_bang_bad_byte() { qf_insert "$(printf '!\001\002')"; }
qf_nul() { rewrite "$GQ/qf$ID" sed -e 's/^H??Subject: /H??Subject: \x00/'; place; }
qf_empty_line() { qf_insert ""; }
qf_continuation() { rewrite "$GQ/qf$ID" awk '{ print } /^R/ && !d { print "\tcontinued"; d = 1 }'; place; }
qf_header_no_name() { qf_sed 's/^H??Subject:/H??:/'; }
qf_header_bad_name() { qf_sed 's/^H??Subject:/H??Sub ject:/'; }
qf_r_cr() { qf_sed "s/^RPFD:.*/RPFD:\"x$(printf '\r')RCPT To:<evil@example.test>\"@example.test/"; }
qf_s_ctl() { qf_sed "s/^S\\(.*\\)/S\\1$(printf '\033')/"; }
qf_crlf() { rewrite "$GQ/qf$ID" sed -e 's/$/\r/'; place; }
qf_mode() { chmod "$1" "$GQ/qf$ID"; place; }
qf_owner() { chown "$1" "$GQ/qf$ID"; place; }
qf_unreadable() { chown nobody:smmsp "$GQ/qf$ID"; chmod 0600 "$GQ/qf$ID"; place; }
qf_empty_old() { : >"$GQ/qf$ID"; touch -d '1 hour ago' "$GQ/qf$ID"; place; }
qf_long_line() {
	# The header line first, then the rest of the file: one line of
	# CQ_HOSTILE_MB megabytes.
	{
		sed -e '/^\.$/d' "$GQ/qf$ID"
		printf 'H??X-Long: '
		head -c "$((CQ_HOSTILE_MB * 1024 * 1024))" /dev/zero | tr '\0' a
		printf '\n.\n'
	} >"$GQ/.tmp" && cat "$GQ/.tmp" >"$GQ/qf$ID" && rm -f "$GQ/.tmp"
	place
}
qf_many_rcpts() {
	rewrite "$GQ/qf$ID" awk '/^R/ && !d { for (i = 0; i < 100001; i++) printf "RPFD:r%d@example.test\n", i; d = 1 } { print }'
	place
}
qf_symlink() { rm "$GQ/qf$ID"; ln -s "$(target "$1")" "$QQ/qf$ID"; place_df_only; }
qf_hardlink() { rm "$GQ/qf$ID"; ln "$(target "$1")" "$QQ/qf$ID"; place_df_only; }
qf_hardlink_here() { place; ln "$QQ/qf$ID" "$QQ/hardlink-$ID"; }
qf_fifo() { rm "$GQ/qf$ID"; mkfifo -m 0660 "$QQ/qf$ID"; chgrp smmsp "$QQ/qf$ID"; place_df_only; }
qf_socket() { rm "$GQ/qf$ID"; make_socket "$QQ/qf$ID"; place_df_only; }
qf_mknod() { rm "$GQ/qf$ID"; mknod -m 0660 "$QQ/qf$ID" "$1" "$2" "$3"; chgrp smmsp "$QQ/qf$ID"; place_df_only; }
qf_dir() { rm "$GQ/qf$ID"; mkdir -m 0770 "$QQ/qf$ID"; chgrp smmsp "$QQ/qf$ID"; place_df_only; }
qf_dir_with_qf() { mv "$GQ/qf$ID" "$GQ/.qf"; mkdir -m 0770 "$QQ/qf$ID"; mv "$GQ/.qf" "$QQ/qf$ID/qf$ID"; place_df_only; }
place_df_only() { [ "$QDF" = "$GQ" ] || mv "$GQ/df$ID" "$QDF/"; }

df_symlink() { rm "$GQ/df$ID"; ln -s "$(target "$1")" "$QDF/df$ID"; place_qf_only; }
df_hardlink() { rm "$GQ/df$ID"; ln "$(target "$1")" "$QDF/df$ID"; place_qf_only; }
df_fifo() { rm "$GQ/df$ID"; mkfifo -m 0660 "$QDF/df$ID"; chgrp smmsp "$QDF/df$ID"; place_qf_only; }
df_fifo_writer() {
	df_fifo
	# Blocked in open() until someone opens the FIFO to read: the
	# runner, if it did, would read the secret.
	sh -c 'exec cat "$0" >"$1"' "$SECRET" "$QDF/df$ID" &
	HOSTILE_WRITERS="$HOSTILE_WRITERS $!"
	IT_PIDS="$IT_PIDS $!"
}
df_socket() { rm "$GQ/df$ID"; make_socket "$QDF/df$ID"; place_qf_only; }
df_mknod() { rm "$GQ/df$ID"; mknod -m 0660 "$QDF/df$ID" "$1" "$2" "$3"; chgrp smmsp "$QDF/df$ID"; place_qf_only; }
df_dir() { rm "$GQ/df$ID"; mkdir -m 0770 "$QDF/df$ID"; chgrp smmsp "$QDF/df$ID"; place_qf_only; }
df_mode() { chmod "$1" "$GQ/df$ID"; place; }
df_owner() { chown "$1" "$GQ/df$ID"; place; }
df_unreadable() { chown nobody:smmsp "$GQ/df$ID"; chmod 0600 "$GQ/df$ID"; place; }
df_long_line() {
	head -c "$((CQ_HOSTILE_MB * 1024 * 1024))" /dev/zero | tr '\0' b >"$GQ/df$ID"
	place
}
df_nul_dots() {
	printf 'line one\n.\n..\nFrom me\nnul\000byte\000\n.\n' >"$GQ/df$ID"
	place
}
df_empty() { : >"$GQ/df$ID"; place; }
place_qf_only() { [ "$QQ" = "$GQ" ] || mv "$GQ/qf$ID" "$QQ/"; }

no_df() { rm "$GQ/df$ID"; place_qf_only; }
no_qf() { rm "$GQ/qf$ID"; place_df_only; }

sub_df_in_main() { mv "$GQ/qf$ID" "$QQ/"; }
sub_df_in_qfdir() { mv "$GQ/qf$ID" "$GQ/df$ID" "$QQ/"; }
sub_qf_in_main() { :; }

# name_*: the control file under a name that is not a queue file's; the
# data file stays under the ID.
rename_qf() { mv "$GQ/qf$ID" "$QQ/qf$1"; place_df_only; MARK="/qf$1: skipped"; }
name_13() { rename_qf "$(printf %s "$ID" | cut -c1-13)"; }
name_19() { rename_qf "${ID}00000"; }
name_long() { rename_qf "${ID}0123456789ABCD"; }
# name_at POS CHAR: the ID with the character at POS (0-based) replaced.
name_at() {
	_pre=$(printf %s "$ID" | cut -c1-"$1")
	_post=$(printf %s "$ID" | cut -c"$(($1 + 2))"-)
	[ "$1" -gt 0 ] || _pre=
	rename_qf "$_pre$2$_post"
}
name_newline() {
	_n=$(printf %s "$ID" | cut -c1-13)
	mv "$GQ/qf$ID" "$QQ/qf$_n
<3>sm-msp-queue[1]: $ID: to=forged@example.test, stat=Sent (forged)"
	place_df_only
	MARK="/qf$_n?<3>sm-msp-queue[1]: $ID: to=forged"
}

# flipper: the message stays as it is; the test swaps its qf while the
# runner runs (hostile-queue.sh, flip_start).
flipper() { place; }

# make_socket PATH: a unix socket bound at PATH, group smmsp (the binding
# process exits; the socket file stays).
make_socket() {
	python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$1" &&
	    chgrp smmsp "$1" && chmod 0660 "$1"
}
