"""Who holds a GPU's memory: each holder's user, command line, engine, model, container, pod and job.

Read on the GPU's host, from ``/proc`` (under ``Context.proc_root``: ``FLOCKOPS_PROC_ROOT``) and,
for container names, the runtimes' own files (under ``Context.host_root``: ``FLOCKOPS_HOST_ROOT``),
and only for the processes a driver listed as holding GPU memory (NVML, nvidia-smi), or, where
no vendor tool lists them (amdgpu, i915, xe through sysfs), for the DRM clients that DRM fdinfo
shows. Nothing is installed or started on the host: every source is a file.

- :mod:`.proc`: one process's command line, status and parents, read once each;
- :mod:`.commands`: the engine and model a command line names (vLLM, SGLang, llama.cpp, TGI,
  Ollama's runner, LocalAI, LM Studio);
- :mod:`.cgroups`: the container, pod and Slurm job a cgroup path names;
- :mod:`.runtimes`: a container's name, from Docker's, Podman's and the kubelet's files;
- :mod:`.sockets`: the TCP sockets an engine listens on, for the controller to ask;
- :mod:`.ollama_blobs`: an Ollama runner's model blob, named through Ollama's manifests;
- :mod:`.fdinfo`: DRM clients and their memory, from ``/proc/PID/fdinfo``;
- :mod:`.attribution`: all of it joined onto the GPUs' processes.

What cannot be read (another user's process without permission, a runtime's files readable by
root only) is None with the reason in the holder's ``field_errors``, never a guess. Standard
library only: this package also runs inside the remote probe.
"""
