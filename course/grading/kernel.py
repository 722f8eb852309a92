"""The Jupyter kernel a submission runs in: ipykernel without what grading never uses.

Started by the grading driver (course/grading/plugin.py, ``KERNEL``) inside the submission's
sandbox, once per submission, with the command ``grade.kernel_command`` builds; it holds no
state of its own.
"""

import sys

if __name__ == "__main__":
    # ipykernel's debugger imports debugpy, which also runs `uname -p` in a subprocess to log
    # the platform: ~0.1 s of CPU per kernel, for a feature no grading run uses. ipykernel
    # starts without its debugger when that import fails.
    sys.modules["debugpy"] = None
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
