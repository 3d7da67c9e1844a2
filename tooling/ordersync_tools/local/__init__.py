"""The local runtime behind ``ordersync local``: the application of ``template.yaml`` on one machine.

``template`` translates and resolves the template, ``resources`` creates its resources in an embedded AWS
(moto), ``functions``/``container`` run each function in its own warm process, ``api``, ``fifo``, ``stream``
and ``schedules`` wire the triggers as AWS would, and ``runtime`` puts it all together.
"""
