"""orscene.anonymize2d"""
