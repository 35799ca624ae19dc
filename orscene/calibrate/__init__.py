"""orscene.calibrate"""
