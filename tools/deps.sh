#!/bin/sh
# SPDX-License-Identifier: ISC
# Install the Debian packages named on the command line that are missing,
# and Node.js (for the tests) unless a node is already on the PATH.
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
# The tests start their own Alertmanager, nginx and PostgreSQL: their
# packaged services must not start (and hold ports 9093, 80 and 5432)
# while installing. policy-rc.d says so.
policy=""
case "$missing" in
*prometheus-alertmanager*|*nginx*|*postgresql*)
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d \
		    >/dev/null && $SUDO chmod 755 /usr/sbin/policy-rc.d &&
		    policy=/usr/sbin/policy-rc.d
	fi
	;;
esac
$SUDO apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
rc=$?
[ -n "$policy" ] && $SUDO rm -f "$policy"
# Nor start at the next boot: the services we just installed for the
# tests are disabled again (a service installed before is left alone).
if [ $rc -eq 0 ] && [ -d /run/systemd/system ]; then
	for s in prometheus-alertmanager nginx postgresql; do
		case " $missing " in
		*" $s "*) $SUDO systemctl disable --quiet "$s" 2>/dev/null ;;
		esac
	done
fi
exit $rc
