"""The pipeline: the checks of a run before any work, the annotate stage and the runner that
takes a plan through datagen -> annotate -> train -> evaluate -> report.
"""
