"""The Jupyter kernel a submission runs in: ipykernel without what grading never uses.

Started by nbval (``--nbval-kernel-name``) from the kernel spec the grader writes into each
work folder (``grade.kernel_spec``), once per submission, inside that submission's sandbox;
it holds no state of its own.
"""

import sys

if __name__ == "__main__":
    # ipykernel's debugger imports debugpy, which also runs `uname -p` in a subprocess to log
    # the platform: ~0.1 s of CPU per kernel, for a feature no grading run uses. ipykernel
    # starts without its debugger when that import fails.
    sys.modules["debugpy"] = None
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
