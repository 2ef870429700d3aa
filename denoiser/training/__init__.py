"""Retraining as library code: who may start a training, how the child is followed and stopped,
and which models are kept. Nothing here imports Streamlit; the page (`denoiser.page.retrain`)
draws widgets and words on top of it.

- `settings`: what a deployment allows (`Options`, read from the environment).
- `lock`: the machine's one training, across server processes (`flock` on a file).
- `preflight`: whether a training could start at all (data present, runs folder writable).
- `recipes`: the settings a retraining inherits from the shipped model it would replace.
- `protocol`: the child's JSON lines, checked before they touch the job's state.
- `supervisor`: start, follow and cancel the child (`python -m denoiser.worker`); the job's state.
- `runs`: the runs folder's housekeeping (stale records, temporaries, pruning).
- `estimate`: how long a job should take here, from what this machine measured.
"""
