"""What the console runs: each allowed docker command with its explicit set of allowed flags,
and every other command and flag the CLI knows, refused with its own reason."""
from __future__ import annotations

from ..i18n import N_, msg
from .dockercli import Flag, resolve
from .grammar import show


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LIST = "--filter --format --help --quiet"
_INSPECT = "--format --help"
_PRUNE = "--filter --force --help"
_RUN = _words("""
    --add-host --attach --blkio-weight --cap-drop --cgroupns --cpu-period --cpu-quota --cpu-shares
    --cpus --cpuset-cpus --cpuset-mems --detach --detach-keys --disable-content-trust --dns --dns-opt
    --dns-option --dns-search --domainname --entrypoint --env --expose --group-add --health-cmd
    --health-interval --health-retries --health-start-period --health-timeout --help --hostname --init
    --interactive --ip --ip6 --ipc --isolation --kernel-memory --label --link --link-local-ip
    --log-driver --log-opt --mac-address --memory --memory-reservation --memory-swap --memory-swappiness
    --mount --name --net --net-alias --network --network-alias --no-healthcheck --oom-score-adj --pid
    --pids-limit --platform --publish --publish-all --pull --read-only --restart --rm --security-opt
    --shm-size --sig-proxy --stop-signal --stop-timeout --storage-opt --tmpfs --tty --ulimit --user
    --userns --uts --volume --workdir""")
_CREATE = _RUN - {"--detach", "--detach-keys", "--sig-proxy"}
_EXEC = _words("--detach --detach-keys --env --help --interactive --tty --user --workdir")
_SERVICE_CREATE = _words("""
    --cap-drop --config --constraint --container-label --detach --dns --dns-option --dns-search
    --endpoint-mode --entrypoint --env --generic-resource --group --health-cmd --health-interval
    --health-retries --health-start-period --health-timeout --help --host --hostname --init --isolation
    --label --limit-cpu --limit-memory --limit-pids --log-driver --log-opt --max-concurrent --mode
    --mount --name --network --no-healthcheck --no-resolve-image --placement-pref --publish --quiet
    --read-only --replicas --replicas-max-per-node --reserve-cpu --reserve-memory --restart-condition
    --restart-delay --restart-max-attempts --restart-window --rollback-delay --rollback-failure-action
    --rollback-max-failure-ratio --rollback-monitor --rollback-order --rollback-parallelism --secret
    --stop-grace-period --stop-signal --tty --ulimit --update-delay --update-failure-action
    --update-max-failure-ratio --update-monitor --update-order --update-parallelism --user
    --with-registry-auth --workdir""")
_SERVICE_UPDATE = _words("""
    --args --cap-drop --config-add --config-rm --constraint-add --constraint-rm --container-label-add
    --container-label-rm --detach --dns-add --dns-option-add --dns-option-rm --dns-rm --dns-search-add
    --dns-search-rm --endpoint-mode --entrypoint --env-add --env-rm --force --generic-resource-add
    --generic-resource-rm --group-add --group-rm --health-cmd --health-interval --health-retries
    --health-start-period --health-timeout --help --host-add --host-rm --hostname --image --init
    --isolation --label-add --label-rm --limit-cpu --limit-memory --limit-pids --log-driver --log-opt
    --max-concurrent --mount-add --mount-rm --network-add --network-rm --no-healthcheck
    --no-resolve-image --placement-pref-add --placement-pref-rm --publish-add --publish-rm --quiet
    --read-only --replicas --replicas-max-per-node --reserve-cpu --reserve-memory --restart-condition
    --restart-delay --restart-max-attempts --restart-window --rollback --rollback-delay
    --rollback-failure-action --rollback-max-failure-ratio --rollback-monitor --rollback-order
    --rollback-parallelism --secret-add --secret-rm --stop-grace-period --stop-signal --sysctl-rm --tty
    --ulimit-add --ulimit-rm --update-delay --update-failure-action --update-max-failure-ratio
    --update-monitor --update-order --update-parallelism --user --with-registry-auth --workdir""")
_CONTAINER_UPDATE = _words("""
    --blkio-weight --cpu-period --cpu-quota --cpu-shares --cpus --cpuset-cpus --cpuset-mems --help
    --kernel-memory --memory --memory-reservation --memory-swap --pids-limit --restart""")

_CONTAINER_COMMANDS = {
    "attach": "--detach-keys --help --no-stdin --sig-proxy",
    "commit": "--author --change --help --message --pause",
    "create": _CREATE,
    "diff": "--help",
    "exec": _EXEC,
    "inspect": "--format --help --size",
    "kill": "--help --signal",
    "logs": "--details --follow --help --since --tail --timestamps --until",
    "ls": "--all --filter --format --help --last --latest --no-trunc --quiet --size",
    "pause": "--help",
    "port": "--help",
    "prune": _PRUNE,
    "rename": "--help",
    "restart": "--help --time",
    "rm": "--force --help --link --volumes",
    "run": _RUN,
    "start": "--attach --detach-keys --help --interactive",
    "stats": "--all --format --help --no-stream --no-trunc",
    "stop": "--help --time",
    "top": "--help",
    "unpause": "--help",
    "update": _CONTAINER_UPDATE,
    "wait": "--help",
}
_IMAGE_COMMANDS = {
    "history": "--format --help --human --no-trunc --quiet",
    "inspect": _INSPECT,
    "ls": "--all --digests --filter --format --help --no-trunc --quiet",
    "prune": "--all --filter --force --help",
    "rm": "--force --help --no-prune",
    "tag": "--help",
}

ALLOWED: dict[str, frozenset[str]] = {key: (_words(v) if isinstance(v, str) else v) for key, v in {
    **{f"container {name}": flags for name, flags in _CONTAINER_COMMANDS.items()},
    **{name: flags for name, flags in _CONTAINER_COMMANDS.items() if name not in ("ls", "prune", "inspect")},
    "ps": _CONTAINER_COMMANDS["ls"],
    "inspect": "--format --help --size --type",
    **{f"image {name}": flags for name, flags in _IMAGE_COMMANDS.items()},
    "images": _IMAGE_COMMANDS["ls"], "history": _IMAGE_COMMANDS["history"],
    "rmi": _IMAGE_COMMANDS["rm"], "tag": _IMAGE_COMMANDS["tag"],
    "events": "--filter --format --help --since --until",
    "info": _INSPECT,
    "version": _INSPECT,
    "network connect": "--alias --driver-opt --help --ip --ip6 --link --link-local-ip",
    "network create": "--attachable --aux-address --config-from --config-only --driver --gateway --help "
                      "--ingress --internal --ip-range --ipam-driver --ipam-opt --ipv6 --label --opt --scope --subnet",
    "network disconnect": "--force --help",
    "network inspect": "--format --help --verbose",
    "network ls": "--filter --format --help --no-trunc --quiet",
    "network prune": _PRUNE,
    "network rm": "--help",
    "node demote": "--help",
    "node inspect": "--format --help --pretty",
    "node ls": _LIST,
    "node promote": "--help",
    "node ps": "--filter --format --help --no-resolve --no-trunc --quiet",
    "node rm": "--force --help",
    "node update": "--availability --help --label-add --label-rm --role",
    "service create": _SERVICE_CREATE,
    "service inspect": "--format --help --pretty",
    "service logs": "--details --follow --help --no-resolve --no-task-ids --no-trunc --raw --since --tail --timestamps",
    "service ls": _LIST,
    "service ps": "--filter --format --help --no-resolve --no-trunc --quiet",
    "service rm": "--help",
    "service rollback": "--detach --help --quiet",
    "service scale": "--detach --help",
    "service update": _SERVICE_UPDATE,
    "swarm ca": "--cert-expiry --detach --help --quiet --rotate",
    "swarm init": "--advertise-addr --autolock --availability --cert-expiry --data-path-addr --data-path-port "
                  "--default-addr-pool --default-addr-pool-mask-length --dispatcher-heartbeat --force-new-cluster "
                  "--help --listen-addr",
    "swarm join-token": "--help --quiet --rotate",
    "swarm leave": "--force --help",
    "swarm unlock-key": "--help --quiet --rotate",
    "swarm update": "--autolock --cert-expiry --dispatcher-heartbeat --help",
    "system df": "--format --help --verbose",
    "system events": "--filter --format --help --since --until",
    "system info": _INSPECT,
    "system prune": "--all --filter --force --help --volumes",
    "volume create": "--driver --help --label --opt",
    "volume inspect": _INSPECT,
    "volume ls": _LIST,
    "volume prune": _PRUNE,
    "volume rm": "--force --help",
    "config inspect": "--format --help --pretty",
    "config ls": _LIST,
    "config rm": "--help",
    "secret inspect": "--format --help --pretty",
    "secret ls": _LIST,
    "secret rm": "--help",
    "stack ls": "--format --help",
    "stack ps": "--filter --format --help --no-resolve --no-trunc --quiet",
    "stack rm": "--help",
    "stack services": _LIST,
}.items()}
ALLOWED_GLOBAL_FLAGS = frozenset({"--debug", "--log-level", "--help", "--version"})
GROUPS = ("config", "container", "image", "network", "node", "secret", "service", "stack", "swarm", "system",
          "volume")

# Commands the CLI has that the console refuses, with the reason (a msg template over
# {command}, the command as the spec names it: docker {command} ...).
_ARCHIVES = N_("docker {command} moves archives between the engine and the node's files; "
               "the console touches no files on the node")
_BUILD = N_("docker {command} reads a build context from the node's files; the console touches no files on the node")
_CREDENTIALS = N_("docker {command} keeps registry credentials in the node's files, and the lab has no registry")
_REGISTRY = N_("docker {command} needs a registry, and the lab has none")
_CONTENT = N_("docker {command} reads its content from a file on the node; the console touches no files on the node")
_COPY = N_("docker {command} copies files between the node and a container, and the console touches no files on "
           "the node; to read a container's file: docker exec CONTAINER cat FILE")
REFUSED_COMMANDS: dict[str, str] = {
    "cp": _COPY,
    **{c: _ARCHIVES for c in ("save", "load", "export", "import", "image save", "image load", "image import",
                              "container export")},
    **{c: _BUILD for c in ("build", "builder", "image build")},
    "container cp": _COPY,
    "context": N_("docker context switches docker to another engine; the console talks to this node's engine only"),
    "plugin": N_("docker plugin installs and runs engine plugins, which act with the node's full power; "
                 "it is not allowed in the lab"),
    **{c: _CREDENTIALS for c in ("login", "logout")},
    **{c: _REGISTRY for c in ("pull", "image pull", "push", "image push", "search", "manifest", "trust")},
    "swarm join": N_("docker swarm join connects this node to another swarm; your sandbox's swarm is already formed"),
    **{c: _CONTENT for c in ("config create", "secret create")},
    "stack deploy": N_("docker stack deploy reads a compose file from the node's files; "
                       "create each service with docker service create"),
}

# Flags of allowed commands that the console refuses, with the reason (a msg template over
# {option}, the flag as typed).
_DEVICES = N_("{option} hands node devices to a container; it is not allowed in the lab")
_READS = N_("{option} reads a file on the node; the console touches no files on the node")
_OTHER_ENGINE = N_("{option} points docker at another engine; the console talks to this node's engine only")
_TLS = N_("{option} sets up TLS to reach another engine; the console talks to this node's engine only")
REFUSED_FLAGS: dict[str, str] = {
    "--privileged": N_("{option} gives a container every power of the node; it is not allowed in the lab"),
    "--cap-add": N_("{option} widens what a container may do to the node; it is not allowed in the lab "
                    "(--cap-drop is)"),
    **{f: _DEVICES for f in ("--device", "--device-cgroup-rule", "--device-read-bps", "--device-read-iops",
                             "--device-write-bps", "--device-write-iops", "--gpus", "--blkio-weight-device")},
    "--volume-driver": N_("{option} lets a volume plugin mount paths of the node; it is not allowed in the lab"),
    "--volumes-from": N_("{option} copies the mounts of another container, which may be paths of the node; "
                         "mount a named volume instead: -v NAME:/path"),
    "--cgroup-parent": N_("{option} moves a container out of its sandbox's cgroup; it is not allowed in the lab"),
    "--runtime": N_("{option} picks another container runtime of the node; it is not allowed in the lab"),
    **{f: N_("{option} changes kernel settings; it is not allowed in the lab") for f in ("--sysctl", "--sysctl-add")},
    **{f: N_("{option} asks for real-time CPU time, which the node shares with every sandbox; "
             "it is not allowed in the lab")
       for f in ("--cpu-rt-period", "--cpu-rt-runtime")},
    "--oom-kill-disable": N_("{option} lets a container keep memory the node needs; it is not allowed in the lab"),
    **{f: N_("{option} is for Windows engines only; it is not allowed in the lab")
       for f in ("--cpu-count", "--cpu-percent", "--io-maxbandwidth", "--io-maxiops", "--credential-spec")},
    **{f: _READS for f in ("--env-file", "--label-file", "--external-ca", "--ca-cert", "--ca-key",
                           "--kubeconfig")},
    "--cidfile": N_("{option} writes a file on the node; the console touches no files on the node"),
    **{f: N_("{option} changes how much of its log and history the swarm keeps on the managers' disks; "
             "the lab keeps it fixed") for f in ("--max-snapshots", "--snapshot-interval", "--task-history-limit")},
    "--orchestrator": N_("{option} points docker at another orchestrator; the console talks to this node's "
                         "engine only"),
}
_GLOBAL_REFUSED = {
    "--host": _OTHER_ENGINE,
    "--context": _OTHER_ENGINE,
    "--config": N_("{option} reads client settings from a path of the node; the console uses the node's own "
                   "settings"),
    **{f: _TLS for f in ("--tls", "--tlsverify", "--tlscacert", "--tlscert", "--tlskey")},
}


def allowed_here(parent: str) -> list[str]:
    """The commands the console runs under PARENT ('' for docker itself), for a refusal."""
    names = set()
    for key in ALLOWED:
        parts = key.split(" ")
        if " ".join(parts[:-1]) == parent:
            names.add(parts[-1])
        elif parent == "" and len(parts) > 1:
            names.add(parts[0])
    return sorted(names)


def unknown_command(word: str, parent: str) -> str:
    if parent and not allowed_here(parent):  # nothing of that group is allowed: refuse the group
        return unknown_command(parent.split(" ")[0], "")
    full = f"{parent} {word}".strip()
    key = resolve(parent, word)
    if key in REFUSED_COMMANDS:
        return msg(REFUSED_COMMANDS[key], command=key)
    if key and key.split(" ")[0] in REFUSED_COMMANDS:
        return msg(REFUSED_COMMANDS[key.split(" ")[0]], command=key.split(" ")[0])
    return msg("docker {command} is not a command the console runs; allowed here: {commands}",
               command=show(full, 60), commands=", ".join(allowed_here(parent)))


def refused_flag(flag: Flag, path: str, global_: bool = False) -> str:
    table = _GLOBAL_REFUSED if global_ else REFUSED_FLAGS
    if flag.name in table:
        return msg(table[flag.name], option=flag.typed)
    return msg("docker {command} {option} is not allowed in the console", command=path, option=flag.typed)
