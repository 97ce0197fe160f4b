"""A miniature NeMo Gym: resource servers, an agent and a head server, over HTTP on loopback.

The pieces speak NeMo Gym's contract, so the collection client that drives them also drives a
real NeMo Gym deployment:
- a resource server has one route per tool, ``/seed_session`` and ``/verify`` (the reward);
- an agent's ``POST /run`` takes a task row and returns the rollout record, driving the episode
  through any OpenAI-compatible endpoint the way Gym's ``simple_agent`` + ``vllm_model`` do;
- the head server's ``GET /server_instances`` lists every server's ``url`` and ``server_type``.
"""
