#!/bin/sh
# Entrypoint of the Reintegra image. The service comes from REINTEGRA_SERVICE (reception, assessment,
# referral, followup):
#   serve (default)       python -m reintegra_<service>
#   migrate               python -m reintegra_kit.migrate <service>   (migrate its database and exit)
#   housekeeping ARGS...  python -m reintegra_kit.housekeeping ARGS...
#   any other command     run as given, e.g. python -m reintegra_kit.deadletters list <topic>.dlq
set -eu

service="${REINTEGRA_SERVICE:-}"

need_service() {
    case "$service" in
        "" | *[!a-z]*)
            echo "reintegra: set REINTEGRA_SERVICE to reception, assessment, referral or followup (got '$service')" >&2
            exit 2
            ;;
    esac
}

mode="${1:-serve}"
case "$mode" in
    serve)
        need_service
        exec python -m "reintegra_$service"
        ;;
    migrate)
        need_service
        exec python -m reintegra_kit.migrate "$service"
        ;;
    housekeeping)
        shift
        exec python -m reintegra_kit.housekeeping "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
