"""What a lesson does to a lab: ``load`` (shapes of traffic: constant, step, salary day)
and ``chaos`` (faults: kill, monkey, pause, Redis down or slow).
"""
