"""Automatic metrics of videos: what each one measures, and the code that computes it on the CPU.

- ``definitions``: the metrics, their versions, directions and the criterion each one stands in for;
- ``frames``: decoding a video into sampled RGB frames (PyAV);
- ``face``: face identity and identity consistency with dlib's face recognition network;
- ``motion``: dynamic degree (OpenCV optical flow) and flicker;
- ``text``: text alignment, only with an operator's local weights;
- ``compute``: every metric of one video, the function the Celery task's service calls.
"""
