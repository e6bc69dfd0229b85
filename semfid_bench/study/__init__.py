"""Running your own user study: pair selection, pseudo-labels and MOS import.

``answers`` reads raters' yes/no answers, ``mos`` turns them into a rated manifest,
``selection`` picks moderate pairs from a run, ``labels`` scores pairs into item labels.
"""
