"""orscene.synth"""
