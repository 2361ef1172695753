"""Training: strategies (`strategy`), the paper's schedule (`schedule`), optimizers
(`optimizer`), the run directory (`run_dir`) and the resumable loop (`loop.train`)."""
