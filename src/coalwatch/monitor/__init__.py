"""实时监测: the live dashboard per mine, the region view, the control-room wall."""
