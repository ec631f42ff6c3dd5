#!/bin/sh
# measure-image.sh [TAG] — the figures the connector image is held to: image size (< 30 MB), time from
# the container's start to /health/live answering 200 (< 1 s), idle RSS after 15 s (< 30 MB), and exit code and
# time of `docker stop` (0, < 10 s). Runs one throwaway container (LEDGER=memory) and removes it.
set -eu

tag=${1:-m2m/connector:0.1.0}
name=m2m-measure-$$-$(date +%s)
key=0x$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
ms() { date +%s%3N; }

echo "image $tag: $(docker image inspect --format '{{.Size}}' "$tag") bytes"
docker create --name "$name" --read-only --cap-drop ALL \
	-e NODE_ID=m2m-measure -e LEDGER=memory -e TIGERBEETLE_CLUSTER_ID=1 \
	-e EVM_ADDRESS=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed -e EVM_PRIVATE_KEY="$key" \
	"$tag" >/dev/null
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT INT TERM

t0=$(ms)
docker start "$name" >/dev/null
ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 0.2 "http://$ip:8080/health/live")" = 200 ]; do
	[ $(($(ms) - t0)) -lt 10000 ] || { echo "no /health/live 200 within 10 s" >&2; docker logs "$name" >&2; exit 1; }
	sleep 0.01
done
t_ok=$(ms)
started=$(date -d "$(docker inspect -f '{{.State.StartedAt}}' "$name")" +%s%3N)
echo "/health/live 200 after $((t_ok - started)) ms from the container's start (State.StartedAt); $((t_ok - t0)) ms after invoking docker start"

sleep 15
pid=$(docker inspect -f '{{.State.Pid}}' "$name")
echo "idle after 15 s: $(grep VmRSS /proc/"$pid"/status | tr -s ' \t' ' '); docker stats: $(docker stats --no-stream --format '{{.MemUsage}}' "$name")"

t1=$(ms)
docker stop -t 10 "$name" >/dev/null
echo "docker stop: $(($(ms) - t1)) ms, exit code $(docker inspect -f '{{.State.ExitCode}}' "$name")"
