#!/usr/bin/env bash
# The raw floor for bench/sandbox_up.py: the same steps SwarmSandbox.create takes, as plain
# docker CLI commands (network, volumes, three node containers, start, swarm init, two joins,
# wait until three nodes are Ready), with the node recipe before the walls (SECURITY-FLAGS).
# No error handling, no labels beyond the ones that let cleanup find it: this is the floor.
# usage: floor_sandbox_up.sh ID NODE_IMAGE SUBNET(a.b.c.d/28) SECURITY-FLAGS...
set -euo pipefail
id=$1 image=$2 subnet=$3
shift 3
security=("$@")
base=${subnet%.*}
first=${subnet##*.}; first=${first%/*}
docker network create --internal --subnet "$subnet" --label labapp.sandbox="$id" "labapp-$id" >/dev/null
names=(manager1 worker1 worker2)
for i in 0 1 2; do
    (
        n=${names[$i]}
        ip=$base.$((first + i + 2))
        docker volume create --label labapp.sandbox="$id" "labapp-$id-$n-docker" >/dev/null
        docker create --name "labapp-$id-$n" --hostname "$n" --label labapp.sandbox="$id" \
            --label labapp.node="$n" --label labapp.role=x \
            --network "labapp-$id" --ip "$ip" -v "labapp-$id-$n-docker:/var/lib/docker" \
            --memory 512m --memory-swap 512m --pids-limit 2048 --cpus 1 --cgroupns private \
            "${security[@]}" "$image" >/dev/null
        docker start "labapp-$id-$n" >/dev/null
    ) &
done
wait
manager_ip=$base.$((first + 2))
token=$(docker exec "labapp-$id-manager1" sh -c "labapp-wait-ready && docker swarm init \
    --advertise-addr $manager_ip --listen-addr $manager_ip:2377 >/dev/null && docker swarm join-token -q worker")
for n in worker1 worker2; do
    docker exec "labapp-$id-$n" sh -c "labapp-wait-ready && docker swarm join --token $token $manager_ip:2377" >/dev/null &
done
wait
docker exec "labapp-$id-manager1" sh -c \
    'until [ "$(docker node ls --format "{{.Status}}" | grep -c Ready)" -ge 3 ]; do sleep 0.1; done'
