# Shared install steps for scripts/test and scripts/demo. Sourced, not run.
# Everything the tests or the demo need comes from Debian's packages, npm
# (with a lockfile) or cargo: nothing is downloaded any other way.

# Debian packages the suite uses, and why.
SPIDERPIG_APT_PACKAGES=(
  nodejs      # the test OpenID Provider (npm oidc-provider)
  npm
  strace      # tests/tests/executor_admin.rs: proves `ctl` never opens the redb file (case 42)
  prometheus  # the monitoring panel tests run the real server (spiderpig-web/tests/prometheus.rs)
  systemd     # systemd-analyze, -sysusers, -tmpfiles: tests/tests/systemd_units.rs (case 49)
  util-linux  # setpriv and unshare: peer checks as other uids, tmpfiles in a private mount
  chromium    # tests/e2e: headless browser tests, driven by npm playwright-core over CDP
)

step() { printf '\n==> %s\n' "$*"; }

install_system_packages() {
  local missing=()
  for pkg in "${SPIDERPIG_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  # Node.js may come from outside Debian's packages on this machine: a
  # working `node` and `npm` on PATH are enough.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    local kept=()
    for pkg in "${missing[@]}"; do
      [[ "$pkg" == nodejs || "$pkg" == npm ]] || kept+=("$pkg")
    done
    missing=("${kept[@]}")
  fi
  if ((${#missing[@]})); then
    step "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# `npm ci` in every folder of ours that has a lockfile.
install_npm_folders() {
  local lock dir
  while IFS= read -r lock; do
    dir=$(dirname "$lock")
    if [[ ! -d "$dir/node_modules" || "$lock" -nt "$dir/node_modules" ]]; then
      step "npm ci in $dir"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  done < <(git ls-files '*package-lock.json' | grep -v node_modules)
}

ensure_nextest() {
  if ! command -v cargo-nextest >/dev/null; then
    step "cargo install cargo-nextest"
    cargo install --locked cargo-nextest
  fi
}
