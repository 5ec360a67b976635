"""What a lesson shows: ``plots`` (matplotlib figures of a run) and ``live`` (the ipywidgets
dashboard, ``fl.dashboard(lab)``). The top layer; nothing below imports it.
"""
