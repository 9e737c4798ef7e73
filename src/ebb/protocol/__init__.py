"""Wire formats: the Open Inference Protocol over REST (JSON + binary tensor extension) and gRPC.

Both adapters decode into the neutral types of ``ebb.core.types``, call ``Dispatcher.infer`` and
encode the answer; the codecs are pure functions, the adapters are thin.
"""
