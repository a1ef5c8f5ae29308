#!/usr/bin/env bash
# Installs (as root, with apt-get) or names the system parts the tests need:
# Mosquitto (MQTT broker), Chromium and its driver (dashboard tests), PostgreSQL (store tests).
# Starts PostgreSQL when it is installed but not running.
set -euo pipefail
# --demo: only Mosquitto, and only where it can be installed (root + apt-get); never fails,
# since the demo falls back to its embedded broker.
if [ "${1:-}" = "--demo" ]; then
  if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing mosquitto (MQTT broker) for the demo"
      export DEBIAN_FRONTEND=noninteractive
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends mosquitto >/dev/null; } \
        || echo "could not install mosquitto: the demo uses its embedded broker" >&2
    else
      echo "Mosquitto is not installed (sudo apt-get install mosquitto); the demo uses its embedded broker" >&2
    fi
  fi
  exit 0
fi
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing system packages: ${need[*]}" >&2
    echo "run: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
# PostgreSQL: the tests use the local server (trust auth on 127.0.0.1) and make a fresh schema per run.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null 2>&1; then
    ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$ver" ]; then
      ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
      pg_createcluster "$ver" main >/dev/null
    fi
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
fi
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  # a role and database the tests can use without a password
  if [ "$(id -u)" = 0 ] && ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
    su postgres -c "psql -qc \"ALTER ROLE postgres PASSWORD NULL\"" >/dev/null 2>&1 || true
    su postgres -c "createdb test" >/dev/null 2>&1 || true
    hba=$(su postgres -c "psql -tAc 'show hba_file'" 2>/dev/null || true)
    if [ -n "$hba" ] && ! grep -q "smartlib-twin tests" "$hba"; then
      sed -i '1i host all all 127.0.0.1/32 trust # smartlib-twin tests' "$hba"
      su postgres -c "psql -qc 'select pg_reload_conf()'" >/dev/null
    fi
  fi
else
  echo "PostgreSQL is not running on 127.0.0.1:5432 (start it: pg_ctlcluster <version> main start)" >&2
  [ "${CI:-}" = "true" ] && exit 1
fi
exit 0
