"""GLSL shared by the renderer's programs (:mod:`karting.env.render`, :mod:`karting.env.detail`):
the camera placement into a tile of the shared framebuffer, the per-camera looks and the karts'
palette."""

CAMERA_GLSL = """
uniform sampler2D cam_poses;   // (num_cams, 2) RGBA32F: row 0 x, y, cos(yaw), sin(yaw) per
                               // camera; row 1 (x): the cameras in track order (see GROUND_VS)
uniform mat4 proj;
uniform vec3 cam_offset;       // camera position in the kart frame: forward, left, up [m]
uniform vec2 pitch_cs;         // cos, sin of the downward pitch
uniform ivec2 grid;            // tile columns, rows
uniform int looks;             // 1: per-camera looks (domain randomisation) from cam_looks
uniform sampler2D cam_looks;   // (num_cams, 5) RGBA32F: row 0 camera height, cos, sin of pitch
flat out int v_cam;
void to_tile(vec4 clip, int cam);

void place(vec3 world, int cam) {
    vec4 cp = texelFetch(cam_poses, ivec2(cam, 0), 0);
    float height = cam_offset.z;
    vec2 pcs = pitch_cs;
    if (looks != 0) {
        vec4 lk = texelFetch(cam_looks, ivec2(cam, 0), 0);
        height = lk.x;
        pcs = lk.yz;
    }
    vec2 eye = cp.xy + cp.zw * cam_offset.x + vec2(-cp.w, cp.z) * cam_offset.y;
    vec3 d = vec3(world.xy - eye, world.z - height);
    float fwd = d.x * cp.z + d.y * cp.w;
    float left = -d.x * cp.w + d.y * cp.z;
    vec3 c = vec3(-left, fwd * pcs.y + d.z * pcs.x, -(fwd * pcs.x - d.z * pcs.y));
    to_tile(proj * vec4(c, 1.0), cam);
}

void to_tile(vec4 clip, int cam) {
    v_cam = cam;
    clip.y = -clip.y;  // image rows top-down in the framebuffer
    gl_ClipDistance[0] = clip.w + clip.x;
    gl_ClipDistance[1] = clip.w - clip.x;
    gl_ClipDistance[2] = clip.w + clip.y;
    gl_ClipDistance[3] = clip.w - clip.y;
    int col = cam % grid.x;
    int row = cam / grid.x;
    clip.x = (clip.x + clip.w * float(1 + 2 * col - grid.x)) / float(grid.x);
    clip.y = (clip.y + clip.w * float(1 + 2 * row - grid.y)) / float(grid.y);
    gl_Position = clip;
}
"""

FRAG_GLSL = """
out vec4 frag;
uniform int looks;
uniform sampler2D cam_looks;   // rows 1-4: light rgb + sky gain, asphalt, grass, kerb colour
flat in int v_cam;
vec4 look(int row) { return texelFetch(cam_looks, ivec2(v_cam, row), 0); }
"""

PALETTE_GLSL = """const vec3 palette[8] = vec3[8](vec3(0.9, 0.1, 0.1), vec3(0.1, 0.3, 0.9), vec3(1.0, 0.8, 0.1),
    vec3(0.1, 0.7, 0.2), vec3(0.9, 0.4, 0.0), vec3(0.6, 0.1, 0.8), vec3(0.0, 0.8, 0.8),
    vec3(0.95, 0.95, 0.95));
"""
