"""Per-chapter figures and widget explorers: ``course.explorers.ch05`` belongs to
``chapters/05_vanishing_gradients.ipynb``.

Each module draws what its chapter computes: the networks and their training are the
chapter's own visible cells, handed to the figure or the explorer as functions. Nothing
here imports Keras or TensorFlow; ``ipywidgets`` is imported only by the live explorers.
"""
